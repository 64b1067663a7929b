// The six translations (DESIGN.md section 1) through the one decoding loop: each task only picks its
// input frames, target modality, sampler defaults and output decoding; plus the staged helpers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "umt/core/performance.hpp"
#include "umt/core/score.hpp"
#include "umt/io/audio.hpp"
#include "umt/model/bundle.hpp"

namespace umt::tasks {

// User overrides of a task's decoding defaults (the CLI's --temperature, --top-p, ... flags).
struct DecodeSettings {
    std::optional<float> temperature;  // 0 = greedy; > 0 turns a greedy task into sampling
    std::optional<float> top_p;
    std::optional<int> top_k;
    uint64_t seed = 0;
    int max_len = 0;  // frames per decoded sequence at most (0 = tied to the input size)
    int batch = 8;    // sequences decoded together
    // Throws umt::Error explaining an invalid value.
    void validate() const;
};

// The sampler defaults of DESIGN.md section 5.
enum class SamplerDefault { Greedy, TopP, Multinomial };
model::SamplerOptions sampler_for(SamplerDefault task_default, const DecodeSettings& s);

// Torch intra-op threads for the whole process (0 = hardware concurrency).
void set_threads(int threads);

// Wall-clock seconds per stage (load, layout, encode, decode, write), printed by -v.
class Timings {
public:
    void add(const std::string& stage, double seconds);
    std::string summary() const;  // "load 0.12 s, layout 0.40 s, ..."
    double total() const;

private:
    std::vector<std::pair<std::string, double>> stages_;
};

// Measures one stage: adds the time between construction and stop() (or destruction).
class StageTimer {
public:
    StageTimer(Timings* t, std::string stage);
    ~StageTimer();
    void stop();

private:
    Timings* t_;
    std::string stage_;
    double start_;
};

// Whether the bundle is meant to run a task ("omr", "amt", "engrave", "synth", "i2a", "a2i"): the
// manifest's "tasks" list when it has one, else whether it has a translator for the direction.
bool bundle_supports(const model::ModelBundle& bundle, const std::string& task);

// ---- score images ----

// Normalized system images (8-bit gray, sides multiples of 16) of a page or of a single system:
// layout analysis at the bundle's staff height; when it finds no staves but the image is at most
// max_rows * 16 px tall, the whole image is taken as one system (padded white). Throws
// umt::Error(source, ...) when there is nothing to read or a system is taller than the model takes.
std::vector<cv::Mat> prepare_systems(const cv::Mat& gray, int staff_height_px, int max_rows, const std::string& source,
                                     Timings* timings = nullptr);
// The systems of every page of an image or PDF file, through prepare_systems.
std::vector<cv::Mat> read_systems(model::ModelBundle& bundle, const std::string& path, Timings* timings = nullptr);
// One staff group of a system (layout::StaffGroup: a voice staff, a piano's grand staff).
struct GroupImage {
    cv::Mat image;    // normalized like a system image
    int staves = 0;   // staves found in it; 0 = not known (an image read whole)
};
// As read_systems, but each system as its staff groups, top to bottom, each normalized on its
// own; an image without staves is one group.
std::vector<std::vector<GroupImage>> read_staff_groups(model::ModelBundle& bundle, const std::string& path,
                                                       Timings* timings = nullptr);

// 8-bit gray system image <-> the codec's float image (1 = white paper).
model::GrayImage to_codec_image(const cv::Mat& gray);
cv::Mat from_codec_image(const model::GrayImage& image);

// Systems stacked top to bottom on a white page as wide as the widest, with gap_px between them.
cv::Mat stack_page(const std::vector<cv::Mat>& systems, int gap_px = 16);

// ---- the six translations ----

struct OmrResult {
    std::vector<std::vector<std::string>> system_lmx;  // the lowest part (the piano), per system, as decoded
    std::vector<bool> system_looped;                   // ... cut by the repetition stop
    Score score;                                       // one part per staff group (lenient delinearize)
    std::vector<std::vector<std::vector<std::string>>> part_system_lmx;  // every part, per system
    std::vector<std::string> warnings;                 // from delinearize
};
// Image tokens -> LMX per system (greedy by default), batched; systems joined into one part.
OmrResult recognize(model::ModelBundle& bundle, const std::vector<cv::Mat>& systems, const DecodeSettings& s,
                    Timings* timings = nullptr);
// Systems given as their staff groups (read_staff_groups): every group is read in one batch, and
// the k-th group from the bottom of each system joins part k from the bottom (a system without
// it, such as a piano-only introduction, gives that part measure rests). A part takes the staff
// count its groups show on the page (staff numbers beyond it move to its last staff).
// system_lmx is the lowest part's: the piano of a voice-and-piano page.
OmrResult recognize_parts(model::ModelBundle& bundle, const std::vector<std::vector<GroupImage>>& systems,
                          const DecodeSettings& s, Timings* timings = nullptr);

// Audio (any rate) -> model rate -> windows -> MIDI event tokens (top-p by default) -> notes
// stitched through the tie sections.
// How AMT reads the A2I: "frames" = its onsets-and-frames head (peak picking and the note rule
// inside the module; a bundle whose audio input is "features"), "tokens" = the one decoding loop
// over windows stitched through tie sections. Defaults: the manifest's tasks.amt block.
struct TranscribeOptions {
    std::string decoder = "tokens";
    double onset_threshold = 0.5;  // frames: a note starts at an onset peak at least this likely
    double frame_threshold = 0.5;  // frames: and lasts while its key sounds at least this likely
};
TranscribeOptions transcribe_defaults(const model::ModelBundle& bundle);
Performance transcribe(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s,
                       Timings* timings = nullptr, const TranscribeOptions* options = nullptr);
// The window length transcription and audio-to-image use: the MIDI segment length of the
// manifest (10 s), shortened when the model's audio length cannot hold it.
double audio_window_s(const model::ModelBundle& bundle);

// LMX per system of the score's default part: its own system breaks when it has any, else chunks of
// measures_per_chunk measures (later chunks restate key and clefs, as linearize_systems does).
std::vector<std::vector<std::string>> engrave_chunks(const Score& score, int measures_per_chunk = 4);
// LMX -> image tokens with height tokens (seeded multinomial) -> codec decode; one image per
// generated system (a chunk may yield several, or none: then it is skipped with a warning).
std::vector<cv::Mat> engrave(model::ModelBundle& bundle, const std::vector<std::vector<std::string>>& chunks,
                             const DecodeSettings& s, Timings* timings = nullptr);
// The same page through MuseScore 3 (QT_QPA_PLATFORM=offscreen mscore3): every page it writes,
// stacked. Throws umt::Error saying what to install when MuseScore is missing.
cv::Mat engrave_musescore(const Score& score, Timings* timings = nullptr);
bool musescore_available();

struct SynthOptions {
    double window_s = 10.0;  // at most 10 s (the MIDI token shift range); shortened to fit the model
    double prime_s = 1.0;    // each window starts from this much of the last one's codes (0 = off:
                             // windows are then independent and decode in batches)
    double tail_s = 1.0;     // audio kept after the last note-off
};
// MIDI event tokens per window -> audio codes (seeded multinomial) -> codec decode, windows
// concatenated on their time grid; at the codec's sample rate.
Audio synthesize(model::ModelBundle& bundle, const Performance& perf, const DecodeSettings& s,
                 const SynthOptions& opts = {}, Timings* timings = nullptr);

// Image tokens of one or two systems per call -> audio codes -> codec decode, concatenated.
Audio image_to_audio(model::ModelBundle& bundle, const std::vector<cv::Mat>& systems, const DecodeSettings& s,
                     int systems_per_call = 2, Timings* timings = nullptr);
// Audio windows -> image tokens with height tokens -> codec decode: the generated systems.
std::vector<cv::Mat> audio_to_image(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s,
                                    Timings* timings = nullptr);

}  // namespace umt::tasks
