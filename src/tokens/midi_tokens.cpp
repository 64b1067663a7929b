// MT3-style MIDI event tokens: vocabulary, segment encoder and a forgiving decoder.
#include "umt/tokens/midi_tokens.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>

#include "umt/core/error.hpp"

namespace umt::midi_tokens {

namespace {

constexpr int kDrumProgram = 128;  // internal key: drums share one "program" slot

int64_t to_tick(double t) { return static_cast<int64_t>(std::llround(t / kTickSeconds)); }

int segment_ticks(double segment_s) {
    const int64_t s = to_tick(segment_s);
    if (!(segment_s > 0) || s < 1 || s > kMaxShiftTicks)
        throw Error("midi tokens: segment length must be between 10 ms and 10 s, got " + std::to_string(segment_s) + " s");
    return static_cast<int>(s);
}

struct TickNote {
    int64_t on = 0, off = 0;
    int pitch = 60, velocity = 80, program = 0;  // program kDrumProgram = drum
};

// Rounds to ticks, keeps every note at least one tick long, and removes same-key overlaps
// (a re-strike ends the previous note) because the token stream cannot express them.
std::vector<TickNote> to_tick_notes(const Performance& perf, double origin_s) {
    std::vector<TickNote> out;
    out.reserve(perf.notes.size());
    for (const auto& n : perf.notes) {
        if (n.pitch < 0 || n.pitch > 127) continue;
        TickNote t;
        t.on = to_tick(n.onset_s - origin_s);
        t.off = std::max(to_tick(n.offset_s - origin_s), t.on + 1);
        t.pitch = n.pitch;
        t.velocity = std::clamp(n.velocity, 1, 127);
        t.program = n.is_drum() ? kDrumProgram : std::clamp(n.program, 0, 127);
        if (t.program == kDrumProgram) t.off = t.on + 1;  // drums code onsets only
        out.push_back(t);
    }
    std::sort(out.begin(), out.end(), [](const TickNote& a, const TickNote& b) {
        return std::tie(a.program, a.pitch, a.on, a.off) < std::tie(b.program, b.pitch, b.on, b.off);
    });
    std::vector<TickNote> dedup;
    for (const auto& t : out) {
        if (!dedup.empty() && dedup.back().program == t.program && dedup.back().pitch == t.pitch) {
            TickNote& prev = dedup.back();
            if (prev.on == t.on) {  // same key struck twice at once: keep the longer one
                prev.off = std::max(prev.off, t.off);
                prev.velocity = std::max(prev.velocity, t.velocity);
                continue;
            }
            if (prev.off > t.on) prev.off = t.on;
        }
        dedup.push_back(t);
    }
    return dedup;
}

// Emits the tokens of the window [start, start + len) in ticks.
Segment encode_ticks(const std::vector<TickNote>& notes, int64_t start, int len) {
    Segment seg;
    const int64_t end = start + len;
    int program = -1, velocity = -1;
    auto set_program = [&](int p) {
        if (p == program) return;
        seg.push_back(p == kDrumProgram ? kDrumId : kProgramStart + p);
        program = p;
    };
    auto set_velocity = [&](int v) {
        if (v == velocity) return;
        seg.push_back(kVelocityStart + v);
        velocity = v;
    };

    std::vector<std::pair<int, int>> tied;  // (program, pitch)
    for (const auto& n : notes)
        if (n.program != kDrumProgram && n.on < start && n.off > start) tied.push_back({n.program, n.pitch});
    std::sort(tied.begin(), tied.end());
    for (const auto& [p, k] : tied) {
        set_program(p);
        seg.push_back(kPitchStart + k);
    }
    seg.push_back(kTieId);
    program = -1;  // the event part restates its program, so it decodes on its own

    struct Ev { int64_t t; int onset; int program; int velocity; int pitch; };
    std::vector<Ev> evs;
    for (const auto& n : notes) {
        if (n.on >= start && n.on < end) evs.push_back({n.on - start, 1, n.program, n.velocity, n.pitch});
        // An offset exactly at the window end belongs here: the next window will not tie it.
        if (n.program != kDrumProgram && n.off > start && n.off <= end)
            evs.push_back({n.off - start, 0, n.program, 0, n.pitch});
    }
    std::sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) {
        return std::tie(a.t, a.onset, a.program, a.velocity, a.pitch) < std::tie(b.t, b.onset, b.program, b.velocity, b.pitch);
    });
    int64_t now = 0;
    for (const auto& e : evs) {
        if (e.t != now) {
            seg.push_back(kShiftStart + static_cast<int>(e.t));
            now = e.t;
        }
        set_program(e.program);
        set_velocity(e.velocity);
        seg.push_back(kPitchStart + e.pitch);
    }
    return seg;
}

// Interprets token streams segment after segment; never throws on bad tokens.
class Decoder {
public:
    Performance perf;

    void segment(const Segment& tokens, double start_s) {
        // Tie section: everything before the first `tie` (empty when there is none).
        size_t tie_pos = tokens.size();
        for (size_t i = 0; i < tokens.size(); ++i)
            if (tokens[i] == kTieId) { tie_pos = i; break; }
        const bool has_tie = tie_pos < tokens.size();
        std::map<std::pair<int, int>, bool> named;
        if (has_tie) {
            int program = 0;
            for (size_t i = 0; i < tie_pos; ++i) {
                const int id = tokens[i];
                if (id >= kProgramStart && id < kProgramStart + 128) program = id - kProgramStart;
                else if (id >= kPitchStart && id < kPitchStart + 128) named[{program, id - kPitchStart}] = true;
            }
        }
        // Notes not continued by this segment end at its start; named ones not open start there.
        for (auto it = open_.begin(); it != open_.end();) {
            if (!named.count(it->first)) {
                close(it->second, start_s);
                it = open_.erase(it);
            } else {
                ++it;
            }
        }
        for (const auto& [key, _] : named)
            if (!open_.count(key)) open_[key] = start_note(key, start_s, kDefaultVelocity);

        int program = 0, velocity = -1;
        int64_t now = 0;
        last_time_s_ = std::max(last_time_s_, start_s);
        for (size_t i = has_tie ? tie_pos + 1 : 0; i < tokens.size(); ++i) {
            const int id = tokens[i];
            if (id >= kShiftStart && id < kShiftStart + kMaxShiftTicks + 1) {
                const int64_t t = id - kShiftStart;
                if (t >= now) now = t;  // time never runs backwards; a backwards shift is dropped
                last_time_s_ = std::max(last_time_s_, start_s + now * kTickSeconds);
            } else if (id >= kPitchStart && id < kPitchStart + 128) {
                if (velocity < 0) continue;  // a pitch before any velocity cannot be interpreted
                note(program, id - kPitchStart, velocity, start_s + now * kTickSeconds);
            } else if (id >= kVelocityStart && id < kVelocityStart + kNumVelocities) {
                velocity = id - kVelocityStart;
            } else if (id >= kProgramStart && id < kProgramStart + 128) {
                program = id - kProgramStart;
            } else if (id == kDrumId) {
                program = kDrumProgram;
            }
            // Anything else (out-of-range ids, a second `tie`) is dropped.
        }
    }

    Performance finish() {
        for (auto& [key, idx] : open_) close(idx, last_time_s_);
        open_.clear();
        perf.sort();
        return std::move(perf);
    }

private:
    static constexpr int kDefaultVelocity = 80;
    std::map<std::pair<int, int>, size_t> open_;  // (program, pitch) -> index in perf.notes
    double last_time_s_ = 0.0;

    size_t start_note(std::pair<int, int> key, double t, int velocity) {
        NoteEvent n;
        n.onset_s = t;
        n.offset_s = t;
        n.pitch = key.second;
        n.velocity = velocity;
        if (key.first == kDrumProgram) {
            n.channel = 9;
            n.program = 0;
        } else {
            n.program = key.first;
        }
        perf.notes.push_back(n);
        return perf.notes.size() - 1;
    }

    void close(size_t idx, double t) {
        NoteEvent& n = perf.notes[idx];
        n.offset_s = std::max(t, n.onset_s + kTickSeconds);
    }

    void note(int program, int pitch, int velocity, double t) {
        const std::pair<int, int> key{program, pitch};
        if (program == kDrumProgram) {
            if (velocity == 0) return;
            const size_t idx = start_note(key, t, velocity);
            perf.notes[idx].offset_s = t + kDrumHitSeconds;
            return;
        }
        auto it = open_.find(key);
        if (velocity == 0) {
            if (it == open_.end()) return;  // offset of a note that never started
            close(it->second, t);
            open_.erase(it);
            return;
        }
        if (it != open_.end()) {  // re-strike: the sounding note ends here
            close(it->second, t);
            open_.erase(it);
        }
        open_[key] = start_note(key, t, velocity);
    }
};

}  // namespace

int vocab_size() { return kVocabSize; }

std::string token_name(int id) {
    if (id >= kShiftStart && id < kPitchStart) return "shift:" + std::to_string(id - kShiftStart);
    if (id >= kPitchStart && id < kVelocityStart) return "pitch:" + std::to_string(id - kPitchStart);
    if (id >= kVelocityStart && id < kProgramStart) return "velocity:" + std::to_string(id - kVelocityStart);
    if (id >= kProgramStart && id < kTieId) return "program:" + std::to_string(id - kProgramStart);
    if (id == kTieId) return "tie";
    if (id == kDrumId) return "drum";
    throw std::out_of_range("midi token id out of range: " + std::to_string(id));
}

int token_id(const std::string& name) {
    if (name == "tie") return kTieId;
    if (name == "drum") return kDrumId;
    const auto colon = name.find(':');
    if (colon == std::string::npos || colon + 1 >= name.size()) return -1;
    const std::string kind = name.substr(0, colon);
    const std::string num = name.substr(colon + 1);
    if (num.size() > 4 || num.find_first_not_of("0123456789") != std::string::npos) return -1;
    if (num.size() > 1 && num[0] == '0') return -1;  // one spelling per token
    const int v = std::stoi(num);
    if (kind == "shift" && v <= kMaxShiftTicks) return kShiftStart + v;
    if (kind == "pitch" && v < 128) return kPitchStart + v;
    if (kind == "velocity" && v < kNumVelocities) return kVelocityStart + v;
    if (kind == "program" && v < 128) return kProgramStart + v;
    return -1;
}

std::vector<Segment> encode(const Performance& perf, double segment_s) {
    const int len = segment_ticks(segment_s);
    const auto notes = to_tick_notes(perf, 0.0);
    int64_t first = 0, last = 0;
    for (size_t i = 0; i < notes.size(); ++i) {
        first = i == 0 ? notes[i].on : std::min(first, notes[i].on);
        last = std::max(last, notes[i].off);
    }
    if (notes.empty()) return {};
    if (first < 0) throw Error("midi tokens: notes before time 0 cannot be encoded");
    const int64_t count = std::max<int64_t>(1, (last + len - 1) / len);
    std::vector<Segment> out;
    out.reserve(static_cast<size_t>(count));
    for (int64_t k = 0; k < count; ++k) out.push_back(encode_ticks(notes, k * len, len));
    return out;
}

Segment encode_window(const Performance& perf, double start_s, double segment_s) {
    const int len = segment_ticks(segment_s);
    return encode_ticks(to_tick_notes(perf, start_s), 0, len);
}

Performance decode(const std::vector<Segment>& segments, double segment_s) {
    const int len = segment_ticks(segment_s);
    Decoder d;
    for (size_t k = 0; k < segments.size(); ++k) d.segment(segments[k], static_cast<double>(k) * len * kTickSeconds);
    return d.finish();
}

Performance decode_segment(const Segment& tokens, double start_s) {
    Decoder d;
    d.segment(tokens, start_s);
    return d.finish();
}

}  // namespace umt::midi_tokens
