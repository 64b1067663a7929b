// MIDI -> Score quantizer: snap to a grid in score time, split staves at a pitch, voice by greedy
// interval colouring, then write measures with rests and ties.
#include "umt/core/quantize.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "umt/core/error.hpp"

namespace umt {

namespace {

struct QNote {
    int64_t on, off;  // grid units
    int pitch, velocity;
};

struct Chord {
    int64_t on, off;
    std::vector<int> pitches;
};

// Spelled pitch for a MIDI key: sharps in sharp keys and C, flats in flat keys.
Pitch spell(int midi, int fifths) {
    static const char sharp_step[12] = {'C', 'C', 'D', 'D', 'E', 'F', 'F', 'G', 'G', 'A', 'A', 'B'};
    static const int sharp_alter[12] = {0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0};
    static const char flat_step[12] = {'C', 'D', 'D', 'E', 'E', 'F', 'G', 'G', 'A', 'A', 'B', 'B'};
    static const int flat_alter[12] = {0, -1, 0, -1, 0, 0, -1, 0, -1, 0, -1, 0};
    const int pc = ((midi % 12) + 12) % 12;
    Pitch p;
    p.step = fifths < 0 ? flat_step[pc] : sharp_step[pc];
    p.alter = fifths < 0 ? flat_alter[pc] : sharp_alter[pc];
    p.octave = midi / 12 - 1;
    return p;
}

int key_alter(char step, int fifths) {
    static const char sharps[] = "FCGDAEB";
    static const char flats[] = "BEADGCF";
    for (int i = 0; i < std::min(fifths, 7); ++i)
        if (sharps[i] == step) return 1;
    for (int i = 0; i < std::min(-fifths, 7); ++i)
        if (flats[i] == step) return -1;
    return 0;
}

// Notatable note values in quarters, longest first: whole, dotted half, half, dotted quarter, ...
struct Value { Rational len; const char* type; int dots; };
const std::array<Value, 9> kValues = {{{Rational(4), "whole", 0}, {Rational(3), "half", 1}, {Rational(2), "half", 0},
                                       {Rational(3, 2), "quarter", 1}, {Rational(1), "quarter", 0},
                                       {Rational(3, 4), "eighth", 1}, {Rational(1, 2), "eighth", 0},
                                       {Rational(1, 4), "16th", 0}, {Rational(1, 8), "32nd", 0}}};

// Splits a span into notatable values that respect the metre: each piece is the longest value
// that fits and starts on a multiple of its own length (undotted) or of a third of it (dotted).
std::vector<const Value*> split_span(Rational start, Rational len) {
    std::vector<const Value*> out;
    while (len > Rational(0)) {
        const Value* pick = nullptr;
        for (const auto& v : kValues) {
            if (v.len > len) continue;
            const Rational unit = v.dots ? v.len / Rational(3) : v.len;
            if ((start / unit).den() != 1) continue;
            pick = &v;
            break;
        }
        if (!pick) break;  // finer than a 32nd: the grid never produces it
        out.push_back(pick);
        start += pick->len;
        len -= pick->len;
    }
    return out;
}

}  // namespace

double estimate_qpm(const Performance& perf) {
    if (perf.notes.size() < 2) return 120.0;
    const double t0 = perf.notes.front().onset_s;
    double best = 120.0, best_score = -1e9;
    for (int qpm = 40; qpm <= 200; ++qpm) {
        const double beat_s = 60.0 / qpm;
        // Onsets near beats or half beats count; a log-normal prior centred at 100 qpm keeps
        // the grid from halving or doubling freely.
        double c = 0.0;
        for (const auto& n : perf.notes) {
            const double ph = 2.0 * M_PI * (n.onset_s - t0) / beat_s;
            c += std::cos(ph) + 0.5 * std::cos(2 * ph);
        }
        c /= static_cast<double>(perf.notes.size());
        const double lz = std::log2(qpm / 100.0);
        const double score = c - 0.5 * lz * lz;
        if (score > best_score) {
            best_score = score;
            best = qpm;
        }
    }
    return best;
}

Key estimate_key(const Performance& perf) {
    static const double major[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
    static const double minor[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};
    double hist[12] = {0};
    for (const auto& n : perf.notes)
        if (!n.is_drum()) hist[((n.pitch % 12) + 12) % 12] += std::max(0.05, n.offset_s - n.onset_s);
    Key key;
    key.mode = "major";
    double best = -1e9;
    for (int tonic = 0; tonic < 12; ++tonic)
        for (int m = 0; m < 2; ++m) {
            const double* prof = m ? minor : major;
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            for (int i = 0; i < 12; ++i) {
                const double x = hist[(tonic + i) % 12], y = prof[i];
                sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
            }
            const double den = std::sqrt((12 * sxx - sx * sx) * (12 * syy - sy * sy));
            const double r = den > 0 ? (12 * sxy - sx * sy) / den : 0.0;
            if (r > best + 1e-12) {
                best = r;
                // Fifths of the major key with this tonic (minor: of its relative major).
                const int major_tonic = m ? (tonic + 3) % 12 : tonic;
                int fifths = (major_tonic * 7) % 12;  // pitch class -> position on the circle
                if (fifths > 6) fifths -= 12;          // prefer F# (6) over Gb; Db (-5) over C#
                key.fifths = fifths;
                key.mode = m ? "minor" : "major";
            }
        }
    return key;
}

Score quantize_performance(const Performance& perf_in, const QuantizeOptions& opts) {
    if (opts.grid_per_quarter < 1 || opts.grid_per_quarter > 8 || (opts.grid_per_quarter & (opts.grid_per_quarter - 1)))
        throw Error("quantize: grid_per_quarter must be 1, 2, 4 or 8");
    if (opts.beats < 1 || opts.beat_type < 1 || (opts.beat_type & (opts.beat_type - 1)))
        throw Error("quantize: invalid time signature");
    Performance perf = perf_in;
    perf.notes.erase(std::remove_if(perf.notes.begin(), perf.notes.end(), [](const NoteEvent& n) { return n.is_drum(); }),
                     perf.notes.end());
    perf.sort();

    std::vector<TempoChange> tempos = perf.tempos;
    if (opts.qpm > 0) tempos = {{0.0, opts.qpm}};
    else if (tempos.empty()) tempos = {{0.0, estimate_qpm(perf)}};
    const double first_qpm = tempos.front().time_s <= 0 ? tempos.front().qpm : 120.0;
    const int g = opts.grid_per_quarter;

    std::vector<QNote> notes;
    int64_t end = 0;
    std::map<int, int> programs;
    for (const auto& n : perf.notes) {
        QNote q;
        q.on = std::llround(seconds_to_quarters(tempos, n.onset_s) * g);
        q.off = std::max(q.on + 1, static_cast<int64_t>(std::llround(seconds_to_quarters(tempos, n.offset_s) * g)));
        q.pitch = std::clamp(n.pitch, 0, 127);
        q.velocity = n.velocity;
        notes.push_back(q);
        end = std::max(end, q.off);
        ++programs[n.program];
    }

    const Key key = estimate_key(perf);
    const Rational measure_len(4 * opts.beats, opts.beat_type);
    const int64_t measure_units = (measure_len * Rational(g)).num();  // exact: beat_type divides 4*g or not
    if ((measure_len * Rational(g)).den() != 1)
        throw Error("quantize: the measure is not a whole number of grid steps");
    const int64_t n_measures = std::max<int64_t>(1, (end + measure_units - 1) / measure_units);
    if (n_measures > 100000)
        throw Error("quantize: the performance spans " + std::to_string(n_measures) +
                    " measures at the chosen tempo; refusing to write a score that long");

    // Per staff: chords (same onset and end) coloured into voices; a chord that finds no free
    // voice shortens the voice that frees up first.
    std::array<std::vector<std::vector<Chord>>, 2> voices;
    for (int staff = 0; staff < 2; ++staff) {
        std::map<std::pair<int64_t, int64_t>, std::vector<int>> chords;
        for (const auto& q : notes)
            if ((staff == 0) == (q.pitch >= opts.split_pitch)) chords[{q.on, q.off}].push_back(q.pitch);
        auto& vs = voices[staff];
        for (auto& [span, pitches] : chords) {
            std::sort(pitches.begin(), pitches.end());
            pitches.erase(std::unique(pitches.begin(), pitches.end()), pitches.end());
            Chord c{span.first, span.second, pitches};
            int chosen = -1;
            for (size_t v = 0; v < vs.size(); ++v)
                if (vs[v].back().off <= c.on) { chosen = static_cast<int>(v); break; }
            if (chosen < 0 && static_cast<int>(vs.size()) < std::max(1, opts.max_voices_per_staff)) {
                vs.emplace_back();
                chosen = static_cast<int>(vs.size()) - 1;
            }
            if (chosen < 0) {
                size_t v_min = 0;
                for (size_t v = 1; v < vs.size(); ++v)
                    if (vs[v].back().off < vs[v_min].back().off) v_min = v;
                Chord& last = vs[v_min].back();
                if (last.on == c.on) {  // same onset, different end: join it, keeping the shorter end
                    for (int p : c.pitches)
                        if (std::find(last.pitches.begin(), last.pitches.end(), p) == last.pitches.end())
                            last.pitches.push_back(p);
                    last.off = std::min(last.off, c.off);
                    continue;
                }
                last.off = c.on;
                chosen = static_cast<int>(v_min);
            }
            vs[chosen].push_back(c);
        }
    }

    Score score;
    Part part;
    part.id = "P1";
    part.name = "Piano";
    int best_program = 0, best_count = -1;
    for (const auto& [p, c] : programs)
        if (c > best_count) { best_program = p; best_count = c; }
    part.midi_program = best_program;

    const Rational unit(1, g);
    for (int64_t mi = 0; mi < n_measures; ++mi) {
        Measure m;
        m.number = std::to_string(mi + 1);
        const int64_t m_on = mi * measure_units, m_off = m_on + measure_units;
        if (mi == 0) {
            Attributes a;
            a.divisions = g;
            a.key = key;
            TimeSignature ts;
            ts.beats = opts.beats;
            ts.beat_type = opts.beat_type;
            a.time = ts;
            a.staves = 2;
            a.clefs = {Clef{'G', 2, 0, 1}, Clef{'F', 4, 0, 2}};
            m.elements.push_back(a);
            Direction d;
            d.tempo_qpm = std::round(first_qpm * 100.0) / 100.0;
            d.staff = 1;
            m.elements.push_back(d);
        }
        Rational written;  // how far this measure's cursor has advanced, for the <backup>s
        for (int staff = 0; staff < 2; ++staff) {
            const auto& vs = voices[staff];
            const size_t n_voices = std::max<size_t>(1, vs.size());
            for (size_t v = 0; v < n_voices; ++v) {
                const int voice_number = staff * 4 + static_cast<int>(v) + 1;
                // Accidental state per measure and staff: (step, octave) -> alter in force.
                std::map<std::pair<char, int>, int> in_force;
                std::vector<MeasureElement> out;
                int64_t cursor = m_on;
                bool any_note = false;
                auto add_rest = [&](int64_t from, int64_t to) {
                    for (const Value* val : split_span(Rational(from - m_on, g), Rational(to - from, g))) {
                        Note r;
                        r.is_rest = true;
                        r.duration = val->len;
                        r.type = val->type;
                        r.dots = val->dots;
                        r.voice = voice_number;
                        r.staff = staff + 1;
                        out.push_back(r);
                    }
                };
                if (v < vs.size())
                    for (const Chord& c : vs[v]) {
                        const int64_t on = std::max(c.on, m_on), off = std::min(c.off, m_off);
                        if (off <= on) continue;
                        if (on > cursor) add_rest(cursor, on);
                        const auto pieces = split_span(Rational(on - m_on, g), Rational(off - on, g));
                        for (size_t k = 0; k < pieces.size(); ++k) {
                            const bool first_piece = k == 0, last_piece = k + 1 == pieces.size();
                            const bool tie_in = !first_piece || c.on < m_on;
                            const bool tie_out = !last_piece || c.off > m_off;
                            for (size_t pi = 0; pi < c.pitches.size(); ++pi) {
                                Note n;
                                n.pitch = spell(c.pitches[pi], key.fifths);
                                n.chord = pi > 0;
                                n.duration = pieces[k]->len;
                                n.type = pieces[k]->type;
                                n.dots = pieces[k]->dots;
                                n.voice = voice_number;
                                n.staff = staff + 1;
                                n.tie_start = n.tied_start = tie_out;
                                n.tie_stop = n.tied_stop = tie_in;
                                const auto slot = std::make_pair(n.pitch.step, n.pitch.octave);
                                auto it = in_force.find(slot);
                                const int current = it != in_force.end() ? it->second : key_alter(n.pitch.step, key.fifths);
                                if (current != n.pitch.alter && !tie_in) {
                                    n.accidental = n.pitch.alter == 1 ? "sharp" : n.pitch.alter == -1 ? "flat" : "natural";
                                }
                                in_force[slot] = n.pitch.alter;
                                out.push_back(n);
                            }
                        }
                        any_note = true;
                        cursor = off;
                    }
                if (!any_note && v > 0) continue;  // an empty extra voice is left out
                if (!any_note) {
                    Note r;
                    r.is_rest = true;
                    r.measure_rest = true;
                    r.duration = measure_len;
                    r.voice = voice_number;
                    r.staff = staff + 1;
                    out = {r};
                } else if (cursor < m_off) {
                    add_rest(cursor, m_off);
                }
                if (!written.is_zero()) m.elements.push_back(Backup{written});
                for (auto& e : out) m.elements.push_back(std::move(e));
                written = measure_len;
            }
        }
        part.measures.push_back(std::move(m));
    }
    part.measures.back().barlines.push_back(Barline{});  // right, no repeat, no ending
    score.parts.push_back(std::move(part));
    return score;
}

}  // namespace umt
