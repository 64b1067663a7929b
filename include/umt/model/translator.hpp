// One decoding loop for every task (docs/DESIGN.md section 5) around a TorchScript translator.
//
// Encode once; start from the target's begin frame (plus an optional prefix); each step runs
// decode_step on the new frame with a key/value cache, then the sub-decoder 4 times with masks
// and sampling; stop at the target's end frame or max_steps. Rows of a batch that finish drop
// out. Same seed, same input: same output, whatever the batch size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "umt/model/stop_rule.hpp"
#include "umt/tokens/vocabulary.hpp"

namespace umt::model {

struct SamplerOptions {
    enum class Kind { Greedy, Sample };
    Kind kind = Kind::Greedy;
    float temperature = 1.0f;  // Sample: logits / temperature
    int top_k = 0;             // Sample: keep the k most likely ids (0 = all)
    float top_p = 1.0f;        // Sample: keep the smallest set with probability >= top_p
    uint64_t seed = 0;         // each request draws from its own generator seeded by (seed, index)

    static SamplerOptions greedy() { return {}; }
    static SamplerOptions sample(float temperature, int top_k, float top_p, uint64_t seed) {
        return {Kind::Sample, temperature, top_k, top_p, seed};
    }
    // Throws umt::Error explaining an invalid setting.
    void validate() const;
};

struct DecodeOptions {
    tokens::Modality target = tokens::Modality::Lmx;
    int max_steps = 0;  // frames generated at most, the end frame included (0 = the model's limit)
    SamplerOptions sampler;
    bool use_cache = true;  // false recomputes the whole prefix each step (a test of the cache)
    int batch_size = 8;
    // > 1: a row stops when its output ends in a cycle of 1..32 frames repeated this many times
    // (and over at least 12 frames); the repeats after the first copy are dropped. An undertrained
    // decoder loops; a real single-stream target (LMX, MIDI events) does not repeat like that.
    int repetition_stop = 0;
    // Throws umt::Error explaining an invalid setting.
    void validate() const;
};

// An image for a translator that reads pixels (a bundle whose image input is "pixels"): ink =
// 255 - gray, row-major, at the normalized staff height, height and width multiples of 16.
struct InkImage {
    int height = 0;
    int width = 0;
    std::vector<uint8_t> ink;
};

// Audio for a translator that hears features (a bundle whose audio input is "features"): mono
// samples at the model's feature rate (16 kHz); the module computes its own log-mel frames.
struct Waveform {
    std::vector<float> samples;
};

// A note of the frame head (Translator::transcribe_frames): the onsets-and-frames reading.
struct HeardNote {
    int pitch = 60;       // MIDI key
    double onset_s = 0.0;
    double offset_s = 0.0;  // sustain pedal included: the key's sound ends here
    int velocity = 80;    // 1..127
};

struct DecodeRequest {
    tokens::Sequence input;  // the input as frames (or see pixels, wave)
    std::vector<tokens::Frame> prefix;  // frames forced after begin (e.g. the tail of the last window)
    int max_steps = 0;  // this request's own limit, tied to its input size (0 = DecodeOptions::max_steps)
    InkImage pixels;    // when width > 0, the input is this image instead, read by encode_pixels
    Waveform wave;      // when not empty, the input is this audio instead, read by encode_audio
    // The sampler stream this request draws from: (seed, seed_index); -1 = its index in the
    // decode() call. Lets requests of several calls share a batch (DecodePool) unchanged.
    int64_t seed_index = -1;
};

struct DecodeResult {
    std::vector<tokens::Frame> frames;  // generated after begin + prefix, without the end frame
    bool ended = false;                 // false: stopped at max_steps (or by the repetition stop)
    bool looped = false;                // stopped by the repetition stop
};

struct DecodeStats {
    int64_t steps = 0;       // decoder steps run (one per batch per generated frame)
    int64_t row_steps = 0;   // frames generated over all rows
    double seconds = 0.0;
    double encode_seconds = 0.0;  // of seconds: reading the inputs (the encoder and the cross keys)
};

class Translator {
public:
    // Loads a TorchScript translator; throws umt::Error(path, ...) when it cannot be loaded or
    // lacks the methods of the interface.
    Translator(const std::string& path, const tokens::Vocabulary& vocabulary);
    ~Translator();
    Translator(const Translator&) = delete;
    Translator& operator=(const Translator&) = delete;

    std::vector<DecodeResult> decode(const std::vector<DecodeRequest>& requests, const DecodeOptions& options,
                                     DecodeStats* stats = nullptr) const;

    // A translator that hears features: the notes its frame head reads in mono 16 kHz audio
    // (any length; the module cuts 4.096 s windows itself), by onset. Throws umt::Error when the
    // translator has no frame head or a threshold is outside (0, 1).
    std::vector<HeardNote> transcribe_frames(const std::vector<float>& samples, tokens::Modality target,
                                             double onset_threshold, double frame_threshold) const;
    bool has_frame_head() const;

    const tokens::Vocabulary& vocabulary() const { return *vocab_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    const tokens::Vocabulary* vocab_;
};

}  // namespace umt::model
