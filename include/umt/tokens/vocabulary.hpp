// The unified vocabulary (docs/DESIGN.md section 3): one id space for every modality, frames of 4 ids,
// positions, and the frame builders that turn LMX / MIDI tokens and image / audio codes into frames.
//
// The layout is computed from the bundle manifest's "vocabulary" object. The Python twin is
// scripts/umt_model/vocab.py; tests/data/model/vocab_layout.json pins the two to each other.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace umt::tokens {

enum class Modality { Lmx = 0, Midi = 1, Image = 2, Audio = 3 };
constexpr int kNumModalities = 4;
constexpr int kSlots = 4;       // ids per frame = codebooks of an RVQ modality
constexpr int kNumSpecial = 2;  // begin, end after the codes of each block or codebook
constexpr int64_t kPad = 0;

const char* modality_name(Modality m);
Modality modality_from_name(const std::string& name);  // throws umt::Error on an unknown name
bool is_rvq(Modality m);

using Frame = std::array<int64_t, kSlots>;
using Position = std::array<int64_t, 2>;  // (row of position table A, row of table B)

// A sequence ready for the network: one position per frame.
struct Sequence {
    std::vector<Frame> frames;
    std::vector<Position> pos;
};

// One system of image codes: rows x columns cells of 4 codes, cell (r, c) at codes[r * cols + c].
struct CodeGrid {
    int rows = 0;
    int cols = 0;
    std::vector<std::array<int, kSlots>> codes;
};

// One frame of audio codes (codebook 0..3).
using AudioFrame = std::array<int, kSlots>;

struct MaxLengths {
    int lmx = 1024, midi = 1024, image = 2048, audio = 1024, image_columns = 512;
};

// The manifest's "vocabulary" object.
struct VocabularyParams {
    int lmx_size = 224;
    int midi_size = 0;
    int image_codebook_size = 1024;
    int audio_codebook_size = 1024;
    int max_height = 16;
    MaxLengths max_lengths;
    std::vector<std::string> lmx_tokens;  // optional: the LMX vocabulary the bundle was trained with

    // Throws umt::Error(source, ...) naming a missing or invalid field.
    static VocabularyParams from_json(const nlohmann::json& j, const std::string& source);
};

class Vocabulary {
public:
    explicit Vocabulary(const VocabularyParams& params);

    // Throws umt::Error(source, ...) unless the bundle's LMX and MIDI blocks are exactly the
    // ones this build tokenizes with (sizes, and LMX token strings when the manifest lists them).
    void check_compatible(const std::string& source) const;

    const VocabularyParams& params() const { return params_; }
    int64_t size() const { return size_; }
    int64_t block_start(Modality m) const { return block_start_[int(m)]; }
    int codebook_size(Modality m) const { return codebook_size_[int(m)]; }
    Frame begin(Modality m) const { return begin_[int(m)]; }
    Frame end(Modality m) const { return end_[int(m)]; }
    int64_t height_start() const { return height_start_; }
    int max_height() const { return params_.max_height; }
    int64_t sep() const { return sep_; }
    int64_t pos_start(Modality m) const { return pos_start_[int(m)]; }
    int pos_range(Modality m) const { return pos_range_[int(m)]; }
    int64_t n_pos_a() const { return n_pos_a_; }
    int64_t n_pos_b() const { return 1 + params_.max_height; }
    int max_length(Modality m) const { return max_length_[int(m)]; }

    // Id of code c of codebook j (RVQ) or token c (single stream, j = 0).
    int64_t code(Modality m, int j, int c) const;
    int64_t height(int rows) const { return height_start_ + rows - 1; }
    bool is_height(int64_t id) const { return id >= height_start_ && id < height_start_ + params_.max_height; }
    // SEP and height tokens fill all four slots of their frame.
    bool is_whole_frame(int64_t id) const { return id == sep_ || is_height(id); }
    // Value of id inside codebook j of m (or the token index of a single-stream m); -1 when outside.
    int value_of(Modality m, int j, int64_t id) const;
    // Whether frame ends a sequence of target m (slot 0 for single-stream, all slots for RVQ).
    bool is_end(Modality m, const Frame& f) const;
    // Allowed output ids of (target, slot): the sub-decoder's logit mask, as in the Python network.
    std::vector<bool> slot_mask(Modality target, int slot) const;
    // "lmx:measure", "midi:pitch:60", "image0:17", "audio3:end", "height:5", "SEP", "PAD".
    std::string token_name(int64_t id) const;

    // Frame builders. Inputs get begin .. end frames; throw umt::Error when too long for the model.
    Sequence lmx_frames(const std::vector<std::string>& tokens) const;   // unknown token -> umt::Error
    Sequence midi_frames(const std::vector<int>& event_ids) const;
    // Systems joined by SEP, read column by column; with height_tokens (output side) a height
    // token opens each system.
    Sequence image_frames(const std::vector<CodeGrid>& systems, bool height_tokens = false) const;
    Sequence audio_frames(const std::vector<AudioFrame>& frames) const;

    // Back from generated frames (without begin/end). Lenient: what does not belong is dropped.
    std::vector<std::string> to_lmx(const std::vector<Frame>& frames) const;
    std::vector<int> to_midi(const std::vector<Frame>& frames) const;
    std::vector<CodeGrid> to_image(const std::vector<Frame>& frames) const;
    std::vector<AudioFrame> to_audio(const std::vector<Frame>& frames) const;

    // The layout as JSON in the golden-file format of scripts/umt_model/vocab.py (minus params).
    nlohmann::json layout_json() const;

private:
    VocabularyParams params_;
    int64_t size_ = 0, height_start_ = 0, sep_ = 0, n_pos_a_ = 0;
    std::array<int64_t, kNumModalities> block_start_{}, pos_start_{};
    std::array<int, kNumModalities> codebook_size_{}, pos_range_{}, max_length_{};
    std::array<Frame, kNumModalities> begin_{}, end_{};
};

// Positions of frames appended one by one to a sequence of modality m (Python: PositionTracker).
// 1-D modalities: (pos_start + index, 0). Images: begin/SEP/height/end get (column, 0), codes
// (column, 1 + row), column by column with the rows of the last height token (else max_height).
class PositionTracker {
public:
    PositionTracker(const Vocabulary& v, Modality m) : v_(&v), m_(m), rows_(v.max_height()) {}
    Position next(const Frame& f);

private:
    const Vocabulary* v_;
    Modality m_;
    int64_t index_ = 0;
    int column_ = 0, row_ = 0, rows_;
};

}  // namespace umt::tokens
