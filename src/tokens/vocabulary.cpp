// The unified vocabulary layout, frame builders and position tracking (Python twin: umt_model/vocab.py).
#include "umt/tokens/vocabulary.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "umt/core/error.hpp"
#include "umt/io/lmx.hpp"
#include "umt/tokens/midi_tokens.hpp"

namespace umt::tokens {

namespace {

const char* const kNames[kNumModalities] = {"lmx", "midi", "image", "audio"};

int get_int(const nlohmann::json& j, const char* key, const std::string& source, int min_value) {
    if (!j.contains(key) || !j[key].is_number_integer())
        throw Error(source, std::string("manifest vocabulary lacks the integer field \"") + key + "\"");
    int v = j[key].get<int>();
    if (v < min_value)
        throw Error(source, std::string("manifest vocabulary field \"") + key + "\" is " + std::to_string(v) +
                                ", expected at least " + std::to_string(min_value));
    return v;
}

}  // namespace

const char* modality_name(Modality m) { return kNames[int(m)]; }

Modality modality_from_name(const std::string& name) {
    for (int m = 0; m < kNumModalities; ++m)
        if (name == kNames[m]) return Modality(m);
    throw Error("unknown modality \"" + name + "\" (expected lmx, midi, image or audio)");
}

bool is_rvq(Modality m) { return m == Modality::Image || m == Modality::Audio; }

VocabularyParams VocabularyParams::from_json(const nlohmann::json& j, const std::string& source) {
    if (!j.is_object()) throw Error(source, "manifest has no \"vocabulary\" object");
    VocabularyParams p;
    p.lmx_size = get_int(j, "lmx_size", source, 1);
    p.midi_size = get_int(j, "midi_size", source, 1);
    if (get_int(j, "codebooks", source, 1) != kSlots)
        throw Error(source, "manifest vocabulary: codebooks must be 4 (frames have 4 slots)");
    p.image_codebook_size = get_int(j, "image_codebook_size", source, 1);
    p.audio_codebook_size = get_int(j, "audio_codebook_size", source, 1);
    p.max_height = get_int(j, "max_height", source, 1);
    if (!j.contains("max_lengths") || !j["max_lengths"].is_object())
        throw Error(source, "manifest vocabulary lacks \"max_lengths\"");
    const auto& ml = j["max_lengths"];
    p.max_lengths.lmx = get_int(ml, "lmx", source, 2);
    p.max_lengths.midi = get_int(ml, "midi", source, 2);
    p.max_lengths.image = get_int(ml, "image", source, 2);
    p.max_lengths.audio = get_int(ml, "audio", source, 2);
    p.max_lengths.image_columns = get_int(ml, "image_columns", source, 1);
    if (j.contains("lmx_tokens")) {
        if (!j["lmx_tokens"].is_array()) throw Error(source, "manifest vocabulary: lmx_tokens must be a list");
        for (const auto& t : j["lmx_tokens"]) p.lmx_tokens.push_back(t.get<std::string>());
        if (int(p.lmx_tokens.size()) != p.lmx_size)
            throw Error(source, "manifest vocabulary: lmx_tokens has " + std::to_string(p.lmx_tokens.size()) +
                                    " entries but lmx_size is " + std::to_string(p.lmx_size));
    }
    return p;
}

Vocabulary::Vocabulary(const VocabularyParams& p) : params_(p) {
    codebook_size_ = {p.lmx_size, p.midi_size, p.image_codebook_size, p.audio_codebook_size};
    int64_t next = 1;
    for (int m = 0; m < kNumModalities; ++m) {
        block_start_[m] = next;
        int n = codebook_size_[m];
        if (is_rvq(Modality(m))) {
            for (int j = 0; j < kSlots; ++j) {
                int64_t cb = next + int64_t(j) * (n + kNumSpecial);
                begin_[m][j] = cb + n;
                end_[m][j] = cb + n + 1;
            }
            next += int64_t(kSlots) * (n + kNumSpecial);
        } else {
            begin_[m] = {next + n, kPad, kPad, kPad};
            end_[m] = {next + n + 1, kPad, kPad, kPad};
            next += n + kNumSpecial;
        }
    }
    height_start_ = next;
    next += p.max_height;
    sep_ = next;
    size_ = next + 1;
    // Table A: lmx, midi, audio, then image columns (the order of vocab.py).
    const auto& ml = p.max_lengths;
    pos_range_ = {ml.lmx, ml.midi, ml.image_columns, ml.audio};
    max_length_ = {ml.lmx, ml.midi, ml.image, ml.audio};
    int64_t a = 0;
    for (Modality m : {Modality::Lmx, Modality::Midi, Modality::Audio, Modality::Image}) {
        pos_start_[int(m)] = a;
        a += pos_range_[int(m)];
    }
    n_pos_a_ = a;
}

void Vocabulary::check_compatible(const std::string& source) const {
    const auto& lmx = lmx::vocabulary();
    if (params_.lmx_size != int(lmx.size()))
        throw Error(source, "the bundle's LMX vocabulary has " + std::to_string(params_.lmx_size) +
                                " tokens, this umt has " + std::to_string(lmx.size()));
    if (!params_.lmx_tokens.empty()) {
        for (size_t i = 0; i < lmx.size(); ++i)
            if (params_.lmx_tokens[i] != lmx[i])
                throw Error(source, "the bundle's LMX token " + std::to_string(i) + " is \"" + params_.lmx_tokens[i] +
                                        "\", this umt has \"" + lmx[i] + "\"");
    }
    if (params_.midi_size != midi_tokens::vocab_size())
        throw Error(source, "the bundle's MIDI event vocabulary has " + std::to_string(params_.midi_size) +
                                " tokens, this umt has " + std::to_string(midi_tokens::vocab_size()));
}

int64_t Vocabulary::code(Modality m, int j, int c) const {
    if (is_rvq(m)) return block_start_[int(m)] + int64_t(j) * (codebook_size_[int(m)] + kNumSpecial) + c;
    return block_start_[int(m)] + c;
}

int Vocabulary::value_of(Modality m, int j, int64_t id) const {
    int64_t start = is_rvq(m) ? code(m, j, 0) : block_start_[int(m)];
    int64_t v = id - start;
    return v >= 0 && v < codebook_size_[int(m)] ? int(v) : -1;
}

bool Vocabulary::is_end(Modality m, const Frame& f) const {
    if (!is_rvq(m)) return f[0] == end_[int(m)][0];
    for (int j = 0; j < kSlots; ++j)
        if (f[j] != end_[int(m)][j]) return false;
    return true;
}

std::vector<bool> Vocabulary::slot_mask(Modality target, int slot) const {
    std::vector<bool> allowed(size_t(size_), false);
    int m = int(target);
    if (is_rvq(target)) {
        int64_t cb = code(target, slot, 0);
        for (int64_t i = cb; i < cb + codebook_size_[m]; ++i) allowed[i] = true;
        allowed[end_[m][slot]] = true;
        if (target == Modality::Image && slot == 0) {
            for (int h = 1; h <= params_.max_height; ++h) allowed[height(h)] = true;
            allowed[sep_] = true;
        }
    } else if (slot == 0) {
        for (int64_t i = block_start_[m]; i < block_start_[m] + codebook_size_[m]; ++i) allowed[i] = true;
        allowed[end_[m][0]] = true;
    } else {
        allowed[kPad] = true;
    }
    return allowed;
}

std::string Vocabulary::token_name(int64_t id) const {
    if (id == kPad) return "PAD";
    if (id == sep_) return "SEP";
    if (is_height(id)) return "height:" + std::to_string(id - height_start_ + 1);
    for (int m = 0; m < kNumModalities; ++m) {
        Modality mod = Modality(m);
        int slots = is_rvq(mod) ? kSlots : 1;
        for (int j = 0; j < slots; ++j) {
            std::string prefix = is_rvq(mod) ? std::string(kNames[m]) + std::to_string(j) : kNames[m];
            if (id == begin_[m][j]) return prefix + ":begin";
            if (id == end_[m][j]) return prefix + ":end";
            int v = value_of(mod, j, id);
            if (v < 0) continue;
            if (mod == Modality::Lmx && v < int(lmx::vocabulary().size())) return "lmx:" + lmx::vocabulary()[v];
            if (mod == Modality::Midi && v < midi_tokens::vocab_size()) return "midi:" + midi_tokens::token_name(v);
            return prefix + ":" + std::to_string(v);
        }
    }
    return "?" + std::to_string(id);
}

namespace {

Sequence with_positions(const Vocabulary& v, Modality m, std::vector<Frame> frames) {
    Sequence s;
    PositionTracker t(v, m);
    s.pos.reserve(frames.size());
    for (const auto& f : frames) s.pos.push_back(t.next(f));
    s.frames = std::move(frames);
    return s;
}

void check_length(const Vocabulary& v, Modality m, size_t n) {
    size_t limit = size_t(v.max_length(m));
    if (n > limit)
        throw Error(std::string("the ") + modality_name(m) + " input has " + std::to_string(n) +
                    " frames, more than this model's maximum of " + std::to_string(limit) + "; split it");
}

}  // namespace

Sequence Vocabulary::lmx_frames(const std::vector<std::string>& tokens) const {
    static const std::map<std::string, int> index = [] {
        std::map<std::string, int> r;
        const auto& voc = lmx::vocabulary();
        for (size_t i = 0; i < voc.size(); ++i) r[voc[i]] = int(i);
        return r;
    }();
    std::vector<Frame> f{begin(Modality::Lmx)};
    for (const auto& t : tokens) {
        auto it = index.find(t);
        if (it == index.end()) throw Error("\"" + t + "\" is not an LMX token");
        f.push_back({code(Modality::Lmx, 0, it->second), kPad, kPad, kPad});
    }
    f.push_back(end(Modality::Lmx));
    check_length(*this, Modality::Lmx, f.size());
    return with_positions(*this, Modality::Lmx, std::move(f));
}

Sequence Vocabulary::midi_frames(const std::vector<int>& ids) const {
    std::vector<Frame> f{begin(Modality::Midi)};
    for (int id : ids) {
        if (id < 0 || id >= params_.midi_size) throw Error("MIDI event id " + std::to_string(id) + " is out of range");
        f.push_back({code(Modality::Midi, 0, id), kPad, kPad, kPad});
    }
    f.push_back(end(Modality::Midi));
    check_length(*this, Modality::Midi, f.size());
    return with_positions(*this, Modality::Midi, std::move(f));
}

Sequence Vocabulary::image_frames(const std::vector<CodeGrid>& systems, bool height_tokens) const {
    std::vector<Frame> f{begin(Modality::Image)};
    int columns = 0;
    for (size_t s = 0; s < systems.size(); ++s) {
        const auto& g = systems[s];
        if (g.rows < 1 || g.rows > params_.max_height)
            throw Error("an image system has " + std::to_string(g.rows) + " code rows; this model takes 1.." +
                        std::to_string(params_.max_height));
        if (g.codes.size() != size_t(g.rows) * size_t(g.cols)) throw Error("an image code grid has the wrong size");
        if (s > 0) f.push_back({sep_, sep_, sep_, sep_});
        if (height_tokens) {
            int64_t h = height(g.rows);
            f.push_back({h, h, h, h});
        }
        for (int c = 0; c < g.cols; ++c)
            for (int r = 0; r < g.rows; ++r) {
                const auto& cell = g.codes[size_t(r) * g.cols + c];
                Frame fr;
                for (int j = 0; j < kSlots; ++j) {
                    if (cell[j] < 0 || cell[j] >= params_.image_codebook_size) throw Error("image code out of range");
                    fr[j] = code(Modality::Image, j, cell[j]);
                }
                f.push_back(fr);
            }
        columns += g.cols;
    }
    f.push_back(end(Modality::Image));
    if (columns > params_.max_lengths.image_columns)
        throw Error("the image input has " + std::to_string(columns) + " code columns, more than this model's maximum of " +
                    std::to_string(params_.max_lengths.image_columns) + "; split it");
    // An input is bounded by its columns (above) and rows (max_height): its positions are 2-D,
    // and a column-stem encoder sees one position per column. The frame count bounds targets.
    if (height_tokens) {
        check_length(*this, Modality::Image, f.size());
        return with_positions(*this, Modality::Image, std::move(f));
    }
    // Without height tokens a tracker would assume max_height rows per column: place each
    // system's codes by its own grid instead (the positions a height token would have given).
    Sequence out;
    const int64_t ps = pos_start(Modality::Image), last = pos_range(Modality::Image) - 1;
    int64_t col = 0;
    out.pos.push_back({ps, 0});  // begin
    for (size_t s = 0; s < systems.size(); ++s) {
        if (s > 0) out.pos.push_back({ps + std::min(col, last), 0});  // SEP
        for (int c = 0; c < systems[s].cols; ++c)
            for (int r = 0; r < systems[s].rows; ++r) out.pos.push_back({ps + std::min(col + c, last), 1 + r});
        col += systems[s].cols;
    }
    out.pos.push_back({ps + std::min(col, last), 0});  // end
    out.frames = std::move(f);
    return out;
}

Sequence Vocabulary::audio_frames(const std::vector<AudioFrame>& frames) const {
    std::vector<Frame> f{begin(Modality::Audio)};
    for (const auto& a : frames) {
        Frame fr;
        for (int j = 0; j < kSlots; ++j) {
            if (a[j] < 0 || a[j] >= params_.audio_codebook_size) throw Error("audio code out of range");
            fr[j] = code(Modality::Audio, j, a[j]);
        }
        f.push_back(fr);
    }
    f.push_back(end(Modality::Audio));
    check_length(*this, Modality::Audio, f.size());
    return with_positions(*this, Modality::Audio, std::move(f));
}

std::vector<std::string> Vocabulary::to_lmx(const std::vector<Frame>& frames) const {
    std::vector<std::string> out;
    const auto& voc = lmx::vocabulary();
    for (const auto& f : frames) {
        int v = value_of(Modality::Lmx, 0, f[0]);
        if (v >= 0 && v < int(voc.size())) out.push_back(voc[v]);
    }
    return out;
}

std::vector<int> Vocabulary::to_midi(const std::vector<Frame>& frames) const {
    std::vector<int> out;
    for (const auto& f : frames) {
        int v = value_of(Modality::Midi, 0, f[0]);
        if (v >= 0) out.push_back(v);
    }
    return out;
}

std::vector<AudioFrame> Vocabulary::to_audio(const std::vector<Frame>& frames) const {
    std::vector<AudioFrame> out;
    for (const auto& f : frames) {
        AudioFrame a;
        bool ok = true;
        for (int j = 0; j < kSlots && ok; ++j) ok = (a[j] = value_of(Modality::Audio, j, f[j])) >= 0;
        if (ok) out.push_back(a);
    }
    return out;
}

std::vector<CodeGrid> Vocabulary::to_image(const std::vector<Frame>& frames) const {
    // Cells arrive column by column; a column that the model left short is filled with code 0,
    // so every system comes back as a full rectangle the codec can decode.
    std::vector<CodeGrid> out;
    std::vector<std::vector<std::array<int, kSlots>>> columns;
    std::vector<std::array<int, kSlots>> column;
    int rows = params_.max_height;
    auto flush_column = [&] {
        if (column.empty()) return;
        column.resize(size_t(rows), std::array<int, kSlots>{0, 0, 0, 0});
        columns.push_back(column);
        column.clear();
    };
    auto flush_system = [&] {
        flush_column();
        if (columns.empty()) return;
        CodeGrid g;
        g.rows = rows;
        g.cols = int(columns.size());
        g.codes.resize(size_t(g.rows) * g.cols);
        for (int c = 0; c < g.cols; ++c)
            for (int r = 0; r < g.rows; ++r) g.codes[size_t(r) * g.cols + c] = columns[c][r];
        out.push_back(std::move(g));
        columns.clear();
    };
    for (const auto& f : frames) {
        if (f[0] == sep_) {
            flush_system();
        } else if (is_height(f[0])) {
            flush_system();
            rows = int(f[0] - height_start_ + 1);
        } else {
            std::array<int, kSlots> cell;
            bool ok = true;
            for (int j = 0; j < kSlots && ok; ++j) ok = (cell[j] = value_of(Modality::Image, j, f[j])) >= 0;
            if (!ok) continue;
            column.push_back(cell);
            if (int(column.size()) == rows) flush_column();
        }
    }
    flush_system();
    return out;
}

nlohmann::json Vocabulary::layout_json() const {
    nlohmann::json j;
    j["size"] = size_;
    j["pad"] = kPad;
    for (int m = 0; m < kNumModalities; ++m) {
        j["block_start"][kNames[m]] = block_start_[m];
        j["begin"][kNames[m]] = begin_[m];
        j["end"][kNames[m]] = end_[m];
        j["pos_start"][kNames[m]] = pos_start_[m];
        for (int s = 0; s < kSlots; ++s) {
            auto mask = slot_mask(Modality(m), s);
            j["mask_counts"][kNames[m]][s] = std::count(mask.begin(), mask.end(), true);
        }
    }
    j["height_start"] = height_start_;
    j["sep"] = sep_;
    j["n_pos_a"] = n_pos_a_;
    j["n_pos_b"] = n_pos_b();
    return j;
}

Position PositionTracker::next(const Frame& f) {
    const Vocabulary& v = *v_;
    if (m_ != Modality::Image) {
        int64_t i = std::min<int64_t>(index_, v.pos_range(m_) - 1);
        ++index_;
        return {v.pos_start(m_) + i, 0};
    }
    int64_t col = std::min(column_, v.pos_range(Modality::Image) - 1);
    int64_t tok = f[0];
    if (v.is_height(tok)) {
        rows_ = int(tok - v.height_start() + 1);
        row_ = 0;
        return {v.pos_start(Modality::Image) + col, 0};
    }
    if (v.value_of(Modality::Image, 0, tok) < 0) return {v.pos_start(Modality::Image) + col, 0};
    Position p{v.pos_start(Modality::Image) + col, 1 + row_};
    if (++row_ >= rows_) {
        row_ = 0;
        ++column_;
    }
    return p;
}

}  // namespace umt::tokens
