// Standard MIDI file reader/writer: bounds-checked parsing into a Performance and format-1 output.
#include "umt/io/midi.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"

namespace umt {

namespace {

constexpr double kDefaultQpm = 120.0;
constexpr uint32_t kDefaultUsPerQuarter = 500000;

std::string hex(unsigned v) {
    static const char* digits = "0123456789ABCDEF";
    std::string s = "0x";
    s += digits[(v >> 4) & 0xF];
    s += digits[v & 0xF];
    return s;
}

// Piecewise-linear ticks <-> seconds. The reader and the writer share it, so a time written
// at a tick reads back as exactly the same double.
class TempoMap {
public:
    struct Anchor { int64_t tick; double sec; uint32_t us_per_quarter; };

    TempoMap(int ticks_per_quarter, double smpte_sec_per_tick = 0.0)
        : tpq_(ticks_per_quarter), smpte_(smpte_sec_per_tick) {
        anchors_.push_back({0, 0.0, kDefaultUsPerQuarter});
    }

    // Changes must be added in tick order.
    void add(int64_t tick, uint32_t us) {
        if (us == 0) us = 1;
        const Anchor& last = anchors_.back();
        if (tick == last.tick) {
            anchors_.back().us_per_quarter = us;
            return;
        }
        anchors_.push_back({tick, seconds(tick), us});
    }

    double seconds(int64_t tick) const {
        if (smpte_ > 0) return static_cast<double>(tick) * smpte_;
        const Anchor& a = anchor_for_tick(tick);
        return a.sec + static_cast<double>(tick - a.tick) * a.us_per_quarter / (1e6 * tpq_);
    }

    int64_t ticks(double sec) const {
        if (sec <= 0) return 0;
        if (smpte_ > 0) return std::llround(sec / smpte_);
        auto it = std::upper_bound(anchors_.begin(), anchors_.end(), sec,
                                   [](double s, const Anchor& a) { return s < a.sec; });
        const Anchor& a = *(it - 1);
        return a.tick + std::llround((sec - a.sec) * 1e6 * tpq_ / a.us_per_quarter);
    }

    const std::vector<Anchor>& anchors() const { return anchors_; }

private:
    const Anchor& anchor_for_tick(int64_t tick) const {
        auto it = std::upper_bound(anchors_.begin(), anchors_.end(), tick,
                                   [](int64_t t, const Anchor& a) { return t < a.tick; });
        return *(it - 1);
    }
    int tpq_;
    double smpte_;
    std::vector<Anchor> anchors_;
};

// Bounds-checked big-endian reading over the file bytes; every failure names the byte offset.
class Reader {
public:
    Reader(const std::string& bytes, const std::string& source) : b_(bytes), src_(source) {}

    size_t pos() const { return pos_; }
    size_t remaining() const { return b_.size() - pos_; }
    bool at_end() const { return pos_ >= b_.size(); }
    void seek(size_t p) { pos_ = p; }

    uint8_t u8(size_t limit) {
        if (pos_ >= limit) fail("unexpected end of data", limit);
        return static_cast<uint8_t>(b_[pos_++]);
    }
    uint32_t be(int n, size_t limit) {
        uint32_t v = 0;
        for (int i = 0; i < n; ++i) v = (v << 8) | u8(limit);
        return v;
    }
    // Variable-length quantity: at most 4 bytes (28 bits) as the SMF spec allows.
    uint32_t vlq(size_t limit) {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const uint8_t c = u8(limit);
            v = (v << 7) | (c & 0x7F);
            if (!(c & 0x80)) return v;
        }
        throw Error(src_, "variable-length number longer than 4 bytes at byte " + std::to_string(pos_ - 4));
    }
    std::string tag() {
        if (remaining() < 4) throw Error(src_, "truncated chunk header at byte " + std::to_string(pos_));
        std::string t = b_.substr(pos_, 4);
        pos_ += 4;
        return t;
    }
    [[noreturn]] void fail(const std::string& what, size_t limit) const {
        throw Error(src_, what + " at byte " + std::to_string(pos_) +
                              (limit < b_.size() ? " (track chunk ends at byte " + std::to_string(limit) + ")" : ""));
    }
    const std::string& source() const { return src_; }

private:
    const std::string& b_;
    const std::string& src_;
    size_t pos_ = 0;
};

struct RawEvent {
    int64_t tick;
    int track;
    size_t order;
    uint8_t status;   // channel status byte, or 0xFF for a meta event (d1 = its type)
    uint8_t d1, d2;
    uint32_t tempo_us;  // tempo: microseconds per quarter; time signature: log2 of the beat type; key: minor
};

void parse_track(Reader& r, size_t end, int track, std::vector<RawEvent>& out, size_t& order) {
    int64_t tick = 0;
    uint8_t running = 0;
    while (r.pos() < end) {
        tick += r.vlq(end);
        uint8_t status = r.u8(end);
        if (status < 0x80) {
            if (!running) r.fail("data byte " + hex(status) + " without a running status", end);
            r.seek(r.pos() - 1);
            status = running;
        }
        if (status == 0xFF) {
            const uint8_t type = r.u8(end);
            const uint32_t len = r.vlq(end);
            if (len > end - r.pos()) r.fail("meta event length " + std::to_string(len) + " runs past the track end", end);
            const size_t data = r.pos();
            if (type == 0x2F) {  // end of track: anything after it in the chunk is ignored
                r.seek(end);
                return;
            }
            if (type == 0x51 && len >= 3) {
                const uint32_t us = r.be(3, end);
                out.push_back({tick, track, order++, 0xFF, 0x51, 0, us});
            } else if (type == 0x58 && len >= 2) {
                const uint8_t num = r.u8(end), den_pow = r.u8(end);
                if (num > 0 && den_pow <= 6) out.push_back({tick, track, order++, 0xFF, 0x58, num, den_pow});
            } else if (type == 0x59 && len >= 2) {
                const uint8_t sf = r.u8(end), mi = r.u8(end);
                const int fifths = static_cast<int8_t>(sf);
                if (fifths >= -7 && fifths <= 7 && mi <= 1) out.push_back({tick, track, order++, 0xFF, 0x59, sf, mi});
            }
            r.seek(data + len);
            continue;
        }
        if (status == 0xF0 || status == 0xF7) {  // sysex: skipped
            const uint32_t len = r.vlq(end);
            if (len > end - r.pos()) r.fail("sysex length " + std::to_string(len) + " runs past the track end", end);
            r.seek(r.pos() + len);
            continue;
        }
        if (status > 0xF0) r.fail("unexpected status byte " + hex(status), end);
        running = status;
        const uint8_t kind = status & 0xF0;
        const int ndata = (kind == 0xC0 || kind == 0xD0) ? 1 : 2;
        uint8_t d[2] = {0, 0};
        for (int i = 0; i < ndata; ++i) {
            d[i] = r.u8(end);
            if (d[i] & 0x80) {
                r.seek(r.pos() - 1);
                r.fail("expected a data byte after status " + hex(status) + ", got " + hex(d[i]), end);
            }
        }
        if (kind == 0x80 || kind == 0x90 || kind == 0xB0 || kind == 0xC0)
            out.push_back({tick, track, order++, status, d[0], d[1], 0});
    }
}

}  // namespace

Performance parse_midi(const std::string& bytes, const std::string& source) {
    if (bytes.empty()) throw Error(source, "empty file");
    Reader r(bytes, source);
    if (bytes.size() < 4 || bytes.compare(0, 4, "MThd") != 0)
        throw Error(source, "not a Standard MIDI file (no MThd header)");
    r.tag();
    const uint32_t hlen = r.be(4, bytes.size());
    if (hlen < 6) throw Error(source, "MThd header length " + std::to_string(hlen) + " is shorter than 6");
    if (hlen > r.remaining()) throw Error(source, "MThd header claims " + std::to_string(hlen) + " bytes but only " + std::to_string(r.remaining()) + " remain");
    const size_t header_end = r.pos() + hlen;
    const uint32_t format = r.be(2, header_end);
    const uint32_t ntracks = r.be(2, header_end);
    const uint32_t division = r.be(2, header_end);
    r.seek(header_end);
    if (format == 2) throw Error(source, "MIDI format 2 (independent sequences) is not supported");
    if (format > 2) throw Error(source, "unknown MIDI format " + std::to_string(format));
    if (ntracks == 0) throw Error(source, "the header announces no tracks");

    int tpq = 0;
    double smpte_sec_per_tick = 0.0;
    if (division & 0x8000) {
        const int fps_code = -static_cast<int8_t>(division >> 8);
        const int ticks_per_frame = division & 0xFF;
        double fps = 0;
        if (fps_code == 24 || fps_code == 25 || fps_code == 30) fps = fps_code;
        else if (fps_code == 29) fps = 30000.0 / 1001.0;
        else throw Error(source, "SMPTE division with unknown frame rate " + std::to_string(fps_code));
        if (ticks_per_frame == 0) throw Error(source, "SMPTE division with 0 ticks per frame");
        smpte_sec_per_tick = 1.0 / (fps * ticks_per_frame);
        tpq = 1;
    } else {
        tpq = static_cast<int>(division);
        if (tpq == 0) throw Error(source, "division of 0 ticks per quarter note");
    }

    std::vector<RawEvent> events;
    size_t order = 0;
    int track = 0;
    while (!r.at_end() && track < static_cast<int>(ntracks)) {
        const size_t chunk_start = r.pos();
        const std::string tag = r.tag();
        if (r.remaining() < 4) throw Error(source, "truncated chunk header at byte " + std::to_string(chunk_start));
        const uint32_t len = r.be(4, bytes.size());
        if (len > r.remaining())
            throw Error(source, "chunk '" + std::string(tag.size() == 4 && std::all_of(tag.begin(), tag.end(), [](char c) { return c >= 32 && c < 127; }) ? tag : "?") +
                                    "' at byte " + std::to_string(chunk_start) + " claims " + std::to_string(len) +
                                    " bytes but only " + std::to_string(r.remaining()) + " remain (truncated file or bogus length)");
        const size_t end = r.pos() + len;
        if (tag == "MTrk") {
            parse_track(r, end, track, events, order);
            ++track;
        }
        r.seek(end);  // unknown chunks are skipped as the spec asks
    }
    if (track < static_cast<int>(ntracks))
        throw Error(source, "the header announces " + std::to_string(ntracks) + " tracks but the file holds " + std::to_string(track));

    std::stable_sort(events.begin(), events.end(), [](const RawEvent& a, const RawEvent& b) {
        // Tracks are parsed in order, so `order` also sorts by track at one tick.
        return a.tick != b.tick ? a.tick < b.tick : a.order < b.order;
    });

    Performance perf;
    TempoMap map(tpq, smpte_sec_per_tick);
    for (const auto& e : events)
        if (e.status == 0xFF && e.d1 == 0x51 && smpte_sec_per_tick == 0.0) map.add(e.tick, e.tempo_us);
    if (smpte_sec_per_tick == 0.0) {
        bool any_tempo = false;
        for (const auto& e : events) any_tempo |= e.status == 0xFF && e.d1 == 0x51;
        if (any_tempo)
            for (const auto& a : map.anchors()) perf.tempos.push_back({a.sec, 60e6 / a.us_per_quarter});
        perf.ticks_per_quarter = tpq;
    }
    for (const auto& e : events) {
        if (e.status != 0xFF) continue;
        // Several tracks may restate one signature at one tick: keep the last of each time.
        const double t = map.seconds(e.tick);
        if (e.d1 == 0x58) {
            if (!perf.meters.empty() && perf.meters.back().time_s == t) perf.meters.pop_back();
            perf.meters.push_back({t, e.d2, 1 << e.tempo_us});
        } else if (e.d1 == 0x59) {
            if (!perf.keys.empty() && perf.keys.back().time_s == t) perf.keys.pop_back();
            perf.keys.push_back({t, static_cast<int8_t>(e.d2), e.tempo_us == 1});
        }
    }

    int64_t last_tick = 0;
    for (const auto& e : events) last_tick = std::max(last_tick, e.tick);
    int program[16] = {0};
    bool pedal_down[16] = {false};
    // Open notes per (channel, key), matched first-in first-out: each note-off ends the earliest
    // sounding note of that key, which pairs simultaneous unison notes (two voices) correctly.
    std::map<std::pair<int, int>, std::vector<size_t>> open;
    for (const auto& e : events) {
        if (e.status == 0xFF) continue;
        const int kind = e.status & 0xF0, ch = e.status & 0x0F;
        const double t = map.seconds(e.tick);
        if (kind == 0xC0) {
            program[ch] = e.d1;
        } else if (kind == 0xB0) {
            if (e.d1 == 64) {
                const bool down = e.d2 >= 64;
                if (down != pedal_down[ch]) perf.pedals.push_back({t, down, ch});
                pedal_down[ch] = down;
            }
        } else if (kind == 0x90 && e.d2 > 0) {
            NoteEvent n;
            n.onset_s = n.offset_s = t;
            n.pitch = e.d1;
            n.velocity = e.d2;
            n.program = program[ch];
            n.channel = ch;
            perf.notes.push_back(n);
            open[{ch, e.d1}].push_back(perf.notes.size() - 1);
        } else {  // note-off, or note-on with velocity 0
            auto it = open.find({ch, e.d1});
            if (it == open.end() || it->second.empty()) continue;  // stray note-off
            perf.notes[it->second.front()].offset_s = t;
            it->second.erase(it->second.begin());
        }
    }
    const double end_s = map.seconds(last_tick);
    for (auto& [key, idx] : open)
        for (size_t i : idx) perf.notes[i].offset_s = end_s;  // never released: ends with the file
    perf.sort();
    return perf;
}

Performance read_midi(const std::string& path) { return parse_midi(read_file(path), path); }

namespace {

void put_be(std::string& s, uint32_t v, int n) {
    for (int i = n - 1; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void put_vlq(std::string& s, uint32_t v) {
    char buf[5];
    int n = 0;
    buf[n++] = static_cast<char>(v & 0x7F);
    while (v >>= 7) buf[n++] = static_cast<char>((v & 0x7F) | 0x80);
    while (n) s += buf[--n];
}

struct OutEvent {
    int64_t tick;
    int rank;  // at one tick: releases, pedal, program, onsets, then releases of zero-length notes
    std::string bytes;
};

std::string track_chunk(std::vector<OutEvent> evs) {
    std::stable_sort(evs.begin(), evs.end(), [](const OutEvent& a, const OutEvent& b) {
        return a.tick != b.tick ? a.tick < b.tick : a.rank < b.rank;
    });
    std::string body;
    int64_t now = 0;
    for (const auto& e : evs) {
        put_vlq(body, static_cast<uint32_t>(e.tick - now));
        now = e.tick;
        body += e.bytes;
    }
    body += std::string("\x00\xFF\x2F\x00", 4);
    std::string chunk = "MTrk";
    put_be(chunk, static_cast<uint32_t>(body.size()), 4);
    return chunk + body;
}

}  // namespace

std::string write_midi(const Performance& perf_in, int ticks_per_quarter) {
    if (ticks_per_quarter < 1 || ticks_per_quarter > 0x7FFF)
        throw Error("write_midi: ticks per quarter must be within 1..32767");
    Performance perf = perf_in;
    perf.sort();

    // Delta times are at most 28 bits; clamp absurd times instead of writing a broken file.
    constexpr int64_t kMaxTick = 0x0FFFFFFF;
    TempoMap map(ticks_per_quarter);
    std::vector<OutEvent> tempo_track;
    auto tempo_bytes = [](uint32_t us) {
        std::string b("\xFF\x51\x03", 3);
        put_be(b, us, 3);
        return b;
    };
    auto us_of = [](double qpm) {
        const double us = std::round(60e6 / std::max(qpm, 1e-3));
        return static_cast<uint32_t>(std::clamp(us, 1.0, 16777215.0));
    };
    if (perf.tempos.empty() || perf.tempos.front().time_s > 0) {
        tempo_track.push_back({0, 0, tempo_bytes(kDefaultUsPerQuarter)});
    }
    for (const auto& tc : perf.tempos) {
        const int64_t tick = std::min(map.ticks(tc.time_s), kMaxTick);
        const uint32_t us = us_of(tc.qpm);
        map.add(tick, us);
        tempo_track.push_back({tick, 0, tempo_bytes(us)});
    }
    auto tick_of = [&](double s) { return std::min(map.ticks(s), kMaxTick); };
    for (const auto& m : perf.meters) {
        int den_pow = 0;
        while (den_pow < 6 && (1 << den_pow) < m.beat_type) ++den_pow;
        if ((1 << den_pow) != m.beat_type || m.beats < 1 || m.beats > 255) continue;  // not expressible
        std::string b("\xFF\x58\x04", 3);
        b += static_cast<char>(m.beats);
        b += static_cast<char>(den_pow);
        b += static_cast<char>(24);  // MIDI clocks per metronome click
        b += static_cast<char>(8);   // 32nds per quarter
        tempo_track.push_back({tick_of(m.time_s), 1, b});
    }
    for (const auto& k : perf.keys) {
        if (k.fifths < -7 || k.fifths > 7) continue;
        std::string b("\xFF\x59\x02", 3);
        b += static_cast<char>(static_cast<int8_t>(k.fifths));
        b += static_cast<char>(k.minor ? 1 : 0);
        tempo_track.push_back({tick_of(k.time_s), 2, b});
    }

    // One track per (channel, program); programs sharing a channel move to a free one.
    std::map<std::pair<int, int>, int> group_channel;
    std::set<int> used;
    for (const auto& n : perf.notes) {
        const int ch = std::clamp(n.channel, 0, 15);
        const std::pair<int, int> key{ch, n.is_drum() ? 0 : std::clamp(n.program, 0, 127)};
        if (group_channel.count(key)) continue;
        int assigned = ch;
        if (used.count(ch) && ch != 9) {
            assigned = -1;
            for (int c = 0; c < 16; ++c)
                if (c != 9 && !used.count(c)) { assigned = c; break; }
            if (assigned < 0) {
                spdlog::warn("write_midi: more than 15 instrument groups; programs share channel {}", ch);
                assigned = ch;
            }
        }
        used.insert(assigned);
        group_channel[key] = assigned;
    }
    std::map<std::pair<int, int>, std::vector<OutEvent>> tracks;
    for (const auto& [key, ch] : group_channel) {
        if (ch != 9) {
            std::string b;
            b += static_cast<char>(0xC0 | ch);
            b += static_cast<char>(key.second);
            tracks[key].push_back({0, 2, b});
        }
    }
    for (const auto& n : perf.notes) {
        const int ch0 = std::clamp(n.channel, 0, 15);
        const std::pair<int, int> key{ch0, n.is_drum() ? 0 : std::clamp(n.program, 0, 127)};
        const int ch = group_channel[key];
        const int pitch = std::clamp(n.pitch, 0, 127);
        const int64_t on = tick_of(n.onset_s), off = std::max(on, tick_of(n.offset_s));
        std::string b_on, b_off;
        b_on += static_cast<char>(0x90 | ch);
        b_on += static_cast<char>(pitch);
        b_on += static_cast<char>(std::clamp(n.velocity, 1, 127));
        b_off += static_cast<char>(0x80 | ch);
        b_off += static_cast<char>(pitch);
        b_off += static_cast<char>(64);
        tracks[key].push_back({on, 3, b_on});
        tracks[key].push_back({off, off == on ? 4 : 0, b_off});
    }
    // Pedals go to the first track on their channel (or a track of their own).
    for (const auto& p : perf.pedals) {
        const int ch = std::clamp(p.channel, 0, 15);
        std::pair<int, int> key{-1 - ch, 0};
        for (const auto& [k, c] : group_channel)
            if (c == ch) { key = k; break; }
        std::string b;
        b += static_cast<char>(0xB0 | ch);
        b += static_cast<char>(64);
        b += static_cast<char>(p.down ? 127 : 0);
        tracks[key].push_back({tick_of(p.time_s), 1, b});
    }

    std::string out = "MThd";
    put_be(out, 6, 4);
    put_be(out, 1, 2);
    put_be(out, static_cast<uint32_t>(1 + tracks.size()), 2);
    put_be(out, static_cast<uint32_t>(ticks_per_quarter), 2);
    out += track_chunk(tempo_track);
    for (auto& [key, evs] : tracks) out += track_chunk(std::move(evs));
    return out;
}

void save_midi(const Performance& perf, const std::string& path) { write_file_atomic(path, write_midi(perf)); }

}  // namespace umt
