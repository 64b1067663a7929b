// MIDI -> Score quantizer. Score time first (the file's tempo map for a score MIDI, tracked beats
// for a performance), then a grid chosen per beat (binary or triplet), metre and downbeat, staves
// by a Viterbi over onset groups (hand continuity and span), voices by interval colouring, key
// and line-of-fifths spelling, and finally measures with ties, tuplets, stems and beams.
#include "umt/core/quantize.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "umt/core/error.hpp"

namespace umt {

namespace {

constexpr double kChordWindowS = 0.035;  // onsets closer than this are one event of the performance
constexpr double kFrameS = 0.01;         // onset-strength frames of the beat tracker

// ---------------------------------------------------------------------------------------------
// Beat tracking

struct OnsetEvent {
    double time_s;
    double strength;
};

std::vector<OnsetEvent> onset_events(const Performance& perf) {
    std::vector<OnsetEvent> out;
    for (const auto& n : perf.notes) {
        if (n.is_drum()) continue;
        // Loud and long notes mark beats more than soft short ones.
        const double w = (0.5 + n.velocity / 127.0) * (1.0 + std::min(1.0, std::max(0.0, n.offset_s - n.onset_s)));
        if (!out.empty() && n.onset_s - out.back().time_s < kChordWindowS) out.back().strength += w;
        else out.push_back({n.onset_s, w});
    }
    return out;
}

// Autocorrelation of the envelope at lag `lag` frames over [from, to).
double autocorr(const std::vector<double>& env, int lag, size_t from, size_t to) {
    double s = 0.0;
    for (size_t i = from + lag; i < to; ++i) s += env[i] * env[i - lag];
    return s;
}

// Period (frames) that best explains the envelope over [from, to) within [lo, hi], with a
// log-normal prior around `centre` frames.
double best_period(const std::vector<double>& env, size_t from, size_t to, int lo, int hi, double centre, double octaves) {
    double best = centre, best_score = -1.0;
    for (int lag = lo; lag <= hi; ++lag) {
        const double r = autocorr(env, lag, from, to) + 0.5 * autocorr(env, 2 * lag, from, to);
        const double z = std::log2(lag / centre) / octaves;
        const double score = r * std::exp(-0.5 * z * z);
        if (score > best_score) {
            best_score = score;
            best = lag;
        }
    }
    return best;
}

// Where a time falls between the two beats around it (0: on a beat).
double beat_fraction(const std::vector<double>& beats, double s) {
    if (beats.size() < 2) return 0.0;
    size_t i = static_cast<size_t>(std::upper_bound(beats.begin(), beats.end(), s) - beats.begin());
    i = std::clamp<size_t>(i, 1, beats.size() - 1);
    const double a = beats[i - 1], b = beats[i];
    const double x = (s - a) / (b - a);  // beyond either end: the nearest period, extended
    return x - std::floor(x);
}

std::vector<double> track_events(const std::vector<OnsetEvent>& events) {
    if (events.size() < 2) return {};
    const double end_s = events.back().time_s + 1.0;
    const size_t n_frames = static_cast<size_t>(end_s / kFrameS) + 1;
    std::vector<double> env(n_frames, 0.0);
    for (const auto& e : events) {
        const long c = std::lround(e.time_s / kFrameS);
        for (long d = -6; d <= 6; ++d) {
            const long f = c + d;
            if (f >= 0 && f < static_cast<long>(n_frames)) env[f] += e.strength * std::exp(-0.5 * d * d / 4.0);
        }
    }
    double mean = 0.0, sq = 0.0;
    for (double v : env) { mean += v; sq += v * v; }
    mean /= n_frames;
    const double sd = std::sqrt(std::max(1e-12, sq / n_frames - mean * mean));
    for (double& v : env) v /= sd;

    // Global period (40..200 quarters a minute, prior at 110), then a local one per 6 s window
    // within 25 % of it, so rubato and drift do not pull the beats off.
    const int lo = static_cast<int>(60.0 / 200.0 / kFrameS), hi = static_cast<int>(60.0 / 40.0 / kFrameS);
    const double global = best_period(env, 0, n_frames, lo, hi, 60.0 / 110.0 / kFrameS, 0.9);
    const size_t win = static_cast<size_t>(6.0 / kFrameS), hop = static_cast<size_t>(1.0 / kFrameS);
    std::vector<double> local(n_frames, global);
    {
        std::vector<std::pair<size_t, double>> points;
        for (size_t c = 0; c < n_frames; c += hop) {
            const size_t a = c > win / 2 ? c - win / 2 : 0, b = std::min(n_frames, c + win / 2);
            points.push_back({c, best_period(env, a, b, std::max(lo, static_cast<int>(global * 0.75)),
                                             std::min(hi, static_cast<int>(global * 1.25) + 1), global, 0.15)});
        }
        // Median of three neighbouring windows against outliers, then linear in between.
        std::vector<double> med(points.size());
        for (size_t i = 0; i < points.size(); ++i) {
            std::array<double, 3> v{points[i > 0 ? i - 1 : i].second, points[i].second,
                                    points[i + 1 < points.size() ? i + 1 : i].second};
            std::sort(v.begin(), v.end());
            med[i] = v[1];
        }
        for (size_t f = 0; f < n_frames; ++f) {
            const size_t i = std::min(points.size() - 1, f / hop);
            const size_t j = std::min(points.size() - 1, i + 1);
            const double t = points[j].first > points[i].first
                                 ? static_cast<double>(f - points[i].first) / (points[j].first - points[i].first) : 0.0;
            local[f] = med[i] + (med[j] - med[i]) * std::clamp(t, 0.0, 1.0);
        }
    }

    // C(t) = env(t) + max over tau of C(t - tau) - alpha * log(tau / P(t))^2.
    constexpr double kAlpha = 100.0;
    std::vector<double> score(n_frames, 0.0);
    std::vector<long> back(n_frames, -1);
    for (size_t t = 0; t < n_frames; ++t) {
        const double p = local[t];
        const long tmin = static_cast<long>(t) - static_cast<long>(std::round(2.0 * p));
        const long tmax = static_cast<long>(t) - static_cast<long>(std::round(0.5 * p));
        double best = 0.0;
        long arg = -1;
        for (long u = std::max(0L, tmin); u <= tmax; ++u) {
            const double l = std::log((static_cast<double>(t) - u) / p);
            const double v = score[u] - kAlpha * l * l;
            if (arg < 0 || v > best) { best = v; arg = u; }
        }
        score[t] = env[t] + (arg >= 0 ? std::max(0.0, best) : 0.0);
        back[t] = arg >= 0 && best > 0.0 ? arg : -1;
    }
    // The last beat: the best frame within a period after the final onset.
    const long last_on = std::lround(events.back().time_s / kFrameS);
    long t = last_on;
    for (long f = std::max(0L, last_on - static_cast<long>(global)); f < std::min<long>(n_frames, last_on + static_cast<long>(global)); ++f)
        if (score[f] > score[t]) t = f;
    std::vector<double> beats;
    for (; t >= 0; t = back[t]) beats.push_back(t * kFrameS);
    std::reverse(beats.begin(), beats.end());
    // Even divisions (a run of eighths) fit the beats and the points between them equally; then
    // the beat falls where the music starts.
    if (beats.size() >= 3) {
        auto env_at = [&](double s) {  // the peak within 30 ms: onsets are jittered
            const long c = std::lround(s / kFrameS);
            double v = 0.0;
            for (long f = std::max(0L, c - 3); f <= c + 3 && f < static_cast<long>(n_frames); ++f) v = std::max(v, env[f]);
            return v;
        };
        double on_beats = 0, between = 0;
        for (size_t i = 0; i + 1 < beats.size(); ++i) {
            on_beats += env_at(beats[i]);
            between += env_at(0.5 * (beats[i] + beats[i + 1]));
        }
        const double first = events.front().time_s;
        const double frac = beat_fraction(beats, first);
        if (between >= 0.9 * on_beats && frac > 0.3 && frac < 0.7) {
            std::vector<double> mid;
            for (size_t i = 0; i + 1 < beats.size(); ++i) mid.push_back(0.5 * (beats[i] + beats[i + 1]));
            mid.push_back(beats.back() + 0.5 * (beats.back() - beats[beats.size() - 2]));
            beats = mid;
        }
    }

    // Draw each beat onto the nearest strong onset (the envelope is smoothed; the onsets are exact).
    for (double& b : beats) {
        const double tol = std::min(0.07, 0.12 * local[std::min(n_frames - 1, static_cast<size_t>(b / kFrameS))] * kFrameS);
        double best_t = b, best_w = 0.0;
        auto it = std::lower_bound(events.begin(), events.end(), b - tol, [](const OnsetEvent& e, double x) { return e.time_s < x; });
        for (; it != events.end() && it->time_s <= b + tol; ++it) {
            const double w = it->strength * (1.0 - std::abs(it->time_s - b) / (2 * tol));
            if (w > best_w) { best_w = w; best_t = it->time_s; }
        }
        b = best_t;
    }
    beats.erase(std::unique(beats.begin(), beats.end(), [](double a, double b) { return b - a < 0.05; }), beats.end());
    // Cover the first onset: beats before the tracked ones, at the first period, drawn onto onsets.
    while (beats.size() >= 2 && events.front().time_s < beats.front() - 0.1 * (beats[1] - beats[0])) {
        double b = beats.front() - (beats[1] - beats[0]);
        for (const auto& e : events)
            if (std::abs(e.time_s - b) < 0.1 * (beats[1] - beats[0])) { b = e.time_s; break; }
        beats.insert(beats.begin(), b);
    }
    return beats;
}

// True when the tracked beats fall on the quarters (or eighths, or halves) of the file's tempo
// map: a performance played to the file's click, whose map then places the notes.
bool follows_tempo_map(const std::vector<double>& beats, const std::vector<TempoChange>& tempos) {
    if (beats.size() < 4 || tempos.empty()) return false;
    std::vector<double> q, d;
    for (double b : beats) q.push_back(seconds_to_quarters(tempos, b));
    for (size_t i = 1; i < q.size(); ++i) d.push_back(q[i] - q[i - 1]);
    std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
    const double med = d[d.size() / 2];
    for (double level : {0.5, 1.0, 2.0}) {
        if (std::abs(med / level - 1.0) > 0.08) continue;
        size_t near = 0;
        for (double x : q) near += std::abs(x / level - std::round(x / level)) < 0.12;
        return near >= 0.8 * q.size();
    }
    return false;
}

// Seconds -> beats along beat times, linear beyond both ends.
double beat_at(const std::vector<double>& beats, double s) {
    if (beats.size() < 2) return s * 2.0;
    auto it = std::upper_bound(beats.begin(), beats.end(), s);
    size_t i = it == beats.begin() ? 0 : static_cast<size_t>(it - beats.begin()) - 1;
    i = std::min(i, beats.size() - 2);
    return i + (s - beats[i]) / (beats[i + 1] - beats[i]);
}

// ---------------------------------------------------------------------------------------------
// Grid per beat

struct GridChoice {
    int div;     // positions per beat
    double cost;
};

// Penalty (in squared standard deviations) of dividing a beat: simpler grids win near-ties.
double grid_penalty(int div, bool compound) {
    if (compound) {
        switch (div) { case 1: return 0; case 3: return 1.5; case 2: return 5; case 6: return 3.5; case 12: return 8; default: return 12; }
    }
    switch (div) { case 1: return 0; case 2: return 1; case 4: return 3; case 3: return 5; case 8: return 7; case 6: return 8; case 12: return 11; default: return 12; }
}

// ---------------------------------------------------------------------------------------------
// Notation values

struct Value { Rational len; const char* type; int dots; };
const std::array<Value, 13> kValues = {{{Rational(4), "whole", 0}, {Rational(3), "half", 1}, {Rational(2), "half", 0},
                                        {Rational(3, 2), "quarter", 1}, {Rational(1), "quarter", 0},
                                        {Rational(3, 4), "eighth", 1}, {Rational(1, 2), "eighth", 0},
                                        {Rational(3, 8), "16th", 1}, {Rational(1, 4), "16th", 0},
                                        {Rational(3, 16), "32nd", 1}, {Rational(1, 8), "32nd", 0},
                                        {Rational(1, 16), "64th", 0}, {Rational(1, 32), "128th", 0}}};

// Splits a span into notatable values that respect the metre: each piece is the longest value
// that fits and starts on a multiple of half its length (a syncopated quarter after an eighth is
// written as one note), of a third of it when dotted, and a whole note only on a bar line.
std::vector<const Value*> split_span(Rational start, Rational len) {
    std::vector<const Value*> out;
    while (len > Rational(0)) {
        const Value* pick = nullptr;
        for (const auto& v : kValues) {
            if (v.len > len) continue;
            const Rational unit = v.dots ? v.len / Rational(3) : v.len >= Rational(4) ? v.len : v.len / Rational(2);
            if ((start / unit).den() != 1) continue;
            pick = &v;
            break;
        }
        if (!pick) break;  // finer than the grid ever produces
        out.push_back(pick);
        start += pick->len;
        len -= pick->len;
    }
    return out;
}

bool power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

int key_alter(char step, int fifths) {
    static const char sharps[] = "FCGDAEB";
    static const char flats[] = "BEADGCF";
    for (int i = 0; i < std::min(fifths, 7); ++i)
        if (sharps[i] == step) return 1;
    for (int i = 0; i < std::min(-fifths, 7); ++i)
        if (flats[i] == step) return -1;
    return 0;
}

// Line-of-fifths position of a spelled pitch class (C = 0, G = 1, F = -1, F# = 6, Bb = -2).
int fifths_position(char step, int alter) {
    static const std::map<char, int> base = {{'F', -1}, {'C', 0}, {'G', 1}, {'D', 2}, {'A', 3}, {'E', 4}, {'B', 5}};
    return base.at(step) + 7 * alter;
}

// Centre of a key on the line of fifths: the middle of its diatonic set, a little sharper in
// minor so that the leading tone (G# in A minor) wins over its flat twin.
double key_centre(const Key& key) { return key.fifths + (key.mode == "minor" ? 2.8 : 2.0); }

// ---------------------------------------------------------------------------------------------
// The quantizer's notes

struct QNote {
    Rational on, off;  // quarters
    int pitch = 60;
    int velocity = 80;
    double dur_s = 0.0;
    int staff = 1;     // 1 treble, 2 bass
    Pitch spelled;
};

struct Chord {
    Rational on, off;
    std::vector<size_t> notes;  // indices into the QNotes, ascending pitch
    int low = 0, high = 0;
};

struct MeasureSpan {
    Rational start, len;
    TimeSignature time;     // the signature it is written in (a pickup: the one that follows)
    Rational nominal_start; // where a full measure of `time` would start (metric positions)
    std::optional<Key> key; // a key signature change here
};

TimeSignature make_time(int beats, int beat_type) {
    TimeSignature t;
    t.beats = beats;
    t.beat_type = beat_type;
    return t;
}

// Staves by a Viterbi over onset groups: in each group the lowest s notes go to the left hand.
// Costs: a hand spanning more than a tenth, a note on the far side of its usual register, a
// weak middle-C prior, and the jump from where each hand last played.
void assign_staves(std::vector<QNote>& notes) {
    std::map<Rational, std::vector<size_t>> groups;
    for (size_t i = 0; i < notes.size(); ++i) groups[notes[i].on].push_back(i);
    struct State { double cost; int prev; double lh, rh; };  // lh/rh: last pitch centre of each hand (NaN: none yet)
    std::vector<std::vector<State>> lattice;
    std::vector<std::vector<size_t>> order;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (auto& [on, idx] : groups) {
        std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return notes[a].pitch < notes[b].pitch; });
        order.push_back(idx);
        const int n = static_cast<int>(idx.size());
        std::vector<State> states(n + 1);
        for (int s = 0; s <= n; ++s) {
            // Local cost of this split.
            double local = 0.0, lh_sum = 0, rh_sum = 0;
            const int lh_n = s, rh_n = n - s;
            for (int k = 0; k < n; ++k) {
                const int p = notes[idx[k]].pitch;
                if (k < s) {
                    lh_sum += p;
                    local += (p >= 60 ? 0.6 : 0.0) + std::max(0, p - 67) * 0.4;
                } else {
                    rh_sum += p;
                    local += (p < 60 ? 0.6 : 0.0) + std::max(0, 53 - p) * 0.4;
                }
            }
            const auto& members = idx;  // a structured binding cannot be captured before C++20
            auto span_cost = [&](int a, int b) {  // notes a..b-1
                if (b - a < 1) return 0.0;
                const int span = notes[members[b - 1]].pitch - notes[members[a]].pitch;
                return std::clamp(span - 12, 0, 3) * 1.5 + std::max(0, span - 15) * 6.0 + std::max(0, b - a - 5) * 20.0;
            };
            local += span_cost(0, s) + span_cost(s, n);
            const double lh_c = lh_n ? lh_sum / lh_n : nan, rh_c = rh_n ? rh_sum / rh_n : nan;
            State best{std::numeric_limits<double>::infinity(), -1, nan, nan};
            auto jump = [](double from, double to) { return std::isnan(from) || std::isnan(to) ? 0.0 : 0.12 * std::abs(from - to); };
            auto crossing = [](double lh, double rh) { return !std::isnan(lh) && !std::isnan(rh) && lh > rh ? 0.5 * (lh - rh) : 0.0; };
            if (lattice.empty()) {
                best = {local, -1, lh_c, rh_c};
            } else {
                const auto& prev = lattice.back();
                for (size_t ps = 0; ps < prev.size(); ++ps) {
                    const State& p = prev[ps];
                    const double lh_now = std::isnan(lh_c) ? p.lh : lh_c, rh_now = std::isnan(rh_c) ? p.rh : rh_c;
                    const double c = p.cost + local + jump(p.lh, lh_c) + jump(p.rh, rh_c) + crossing(lh_now, rh_now);
                    if (c < best.cost) best = {c, static_cast<int>(ps), lh_now, rh_now};
                }
            }
            states[s] = best;
        }
        lattice.push_back(std::move(states));
    }
    if (lattice.empty()) return;
    int s = 0;
    for (size_t k = 1; k < lattice.back().size(); ++k)
        if (lattice.back()[k].cost < lattice.back()[s].cost) s = static_cast<int>(k);
    for (size_t g = lattice.size(); g-- > 0;) {
        const auto& idx = order[g];
        for (size_t k = 0; k < idx.size(); ++k) notes[idx[k]].staff = static_cast<int>(k) < s ? 2 : 1;
        s = lattice[g][s].prev;
        if (s < 0) break;
    }
}

}  // namespace

std::vector<double> track_beats(const Performance& perf) {
    Performance p = perf;
    p.sort();
    return track_events(onset_events(p));
}

double estimate_qpm(const Performance& perf) {
    const std::vector<double> beats = track_beats(perf);
    if (beats.size() < 2) return 120.0;
    std::vector<double> d;
    for (size_t i = 1; i < beats.size(); ++i) d.push_back(beats[i] - beats[i - 1]);
    std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
    return 60.0 / d[d.size() / 2];
}

bool is_score_midi(const Performance& perf) {
    if (perf.ticks_per_quarter <= 0 || perf.notes.empty()) return false;
    // On a 1/48-quarter grid (any mix of binary and triplet values down to 32nd triplets)
    // within a tick; a performance lands there by chance on about one note in five.
    const double tick_q = 1.0 / perf.ticks_per_quarter;
    const double tol = std::max(1.01 * tick_q, 1e-4);
    size_t on_grid = 0, total = 0;
    for (const auto& n : perf.notes) {
        if (n.is_drum()) continue;
        ++total;
        const double q = seconds_to_quarters(perf.tempos, n.onset_s) * 48.0;
        if (std::abs(q - std::round(q)) <= tol * 48.0) ++on_grid;
    }
    return total > 0 && on_grid >= 0.9 * total;
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

Pitch spell_pitch(int midi, double centre) {
    static const char steps[7] = {'F', 'C', 'G', 'D', 'A', 'E', 'B'};
    const int pc = ((midi % 12) + 12) % 12;
    // Positions p with 7p = pc (mod 12), between F-double-flat (-15) and B-double-sharp (19).
    int best = 0;
    double best_d = 1e9;
    for (int p = -15; p <= 19; ++p) {
        if ((((p * 7) % 12) + 12) % 12 != pc) continue;
        // Naturals and single sharps or flats are read first; E#, B#, Cb, Fb and doubles need a
        // key that leans far to their side.
        const double rare = (p >= 11 || p <= -7 ? 1.5 : 0.0) + (p >= 13 || p <= -9 ? 4.0 : 0.0);
        const double d = std::abs(p - centre) + rare;
        if (d < best_d - 1e-9) { best_d = d; best = p; }
    }
    const int idx = ((best + 1) % 7 + 7) % 7;  // F=-1 -> 0
    Pitch out;
    out.step = steps[idx];
    out.alter = static_cast<int>(std::floor((best + 1.0) / 7.0));
    // The octave follows the written step: B#3 sounds as C4, Cb5 as B4.
    const int natural = std::array<int, 7>{5, 0, 7, 2, 9, 4, 11}[idx];
    out.octave = (midi - natural - out.alter) / 12 - 1;
    return out;
}

Score quantize_performance(const Performance& perf_in, const QuantizeOptions& opts) {
    if (opts.qpm < 0 || opts.qpm > 1000) throw Error("quantize: qpm must be within 0..1000");
    if ((opts.beats > 0) != (opts.beat_type > 0) || opts.beats < 0 || opts.beats > 64 ||
        (opts.beat_type > 0 && (opts.beat_type > 64 || !power_of_two(opts.beat_type))))
        throw Error("quantize: invalid time signature " + std::to_string(opts.beats) + "/" + std::to_string(opts.beat_type));
    if (opts.max_voices_per_staff < 1 || opts.max_voices_per_staff > 4)
        throw Error("quantize: max_voices_per_staff must be within 1..4");
    if (opts.split_pitch < 0 || opts.split_pitch > 127) throw Error("quantize: split_pitch must be within 0..127");
    Performance perf = perf_in;
    perf.notes.erase(std::remove_if(perf.notes.begin(), perf.notes.end(), [](const NoteEvent& n) { return n.is_drum(); }),
                     perf.notes.end());
    perf.sort();
    // The beat tracker keeps a few arrays of 10 ms frames; hours of music are not a score.
    constexpr double kMaxSeconds = 3 * 3600.0;
    for (const auto& n : perf.notes)
        if (!(n.onset_s >= -60 && n.onset_s <= kMaxSeconds && n.offset_s <= kMaxSeconds + 60))
            throw Error("quantize: a note at " + std::to_string(static_cast<long long>(n.onset_s)) +
                        " s; performances longer than 3 hours are refused");

    // ---- Score time: quarters (as doubles) of every onset and offset. A score MIDI and a
    // performance played to the file's click keep the file's tempo map; any other performance
    // is placed by its tracked beats.
    const bool score_midi = opts.qpm <= 0 && is_score_midi(perf);
    std::vector<double> tracked;
    if (!score_midi && opts.qpm <= 0) tracked = track_events(onset_events(perf));
    const bool file_tempo = score_midi || (opts.qpm <= 0 && follows_tempo_map(tracked, perf.tempos));
    Rational beat_q(1);   // the beat the grid divides
    bool compound = false;
    std::vector<double> on_q(perf.notes.size()), off_q(perf.notes.size());
    double first_qpm = 120.0;
    struct TempoMark { double q, qpm; };
    std::vector<TempoMark> tempo_marks;  // score MIDI: its tempo map, in quarters
    std::vector<double> beats;
    if (score_midi) {
        // Grace notes sound just before their beat, off the grid: a score has no room for them.
        const double tol = 1.01 * 48.0 / perf.ticks_per_quarter;
        perf.notes.erase(std::remove_if(perf.notes.begin(), perf.notes.end(), [&](const NoteEvent& n) {
                             const double q = seconds_to_quarters(perf.tempos, n.onset_s) * 48.0;
                             return std::abs(q - std::round(q)) > tol;
                         }), perf.notes.end());
        on_q.resize(perf.notes.size());
        off_q.resize(perf.notes.size());
        for (size_t i = 0; i < perf.notes.size(); ++i) {
            on_q[i] = seconds_to_quarters(perf.tempos, perf.notes[i].onset_s);
            off_q[i] = seconds_to_quarters(perf.tempos, perf.notes[i].offset_s);
        }
        first_qpm = perf.tempos.empty() ? 120.0 : perf.tempos.front().qpm;
        for (const auto& t : perf.tempos) tempo_marks.push_back({seconds_to_quarters(perf.tempos, t.time_s), t.qpm});
    } else if (file_tempo) {
        for (size_t i = 0; i < perf.notes.size(); ++i) {
            on_q[i] = seconds_to_quarters(perf.tempos, perf.notes[i].onset_s);
            off_q[i] = seconds_to_quarters(perf.tempos, perf.notes[i].offset_s);
        }
        first_qpm = perf.tempos.front().qpm;
    } else if (opts.qpm > 0) {
        for (size_t i = 0; i < perf.notes.size(); ++i) {
            on_q[i] = perf.notes[i].onset_s * opts.qpm / 60.0;
            off_q[i] = perf.notes[i].offset_s * opts.qpm / 60.0;
        }
        first_qpm = opts.qpm;
    } else {
        beats = tracked;
        if (beats.size() < 2) {  // too few onsets to find a beat: one note or a chord
            const double t0 = perf.notes.empty() ? 0.0 : perf.notes.front().onset_s;
            beats = {t0, t0 + 0.5};
        }
        for (size_t i = 0; i < perf.notes.size(); ++i) {
            on_q[i] = beat_at(beats, perf.notes[i].onset_s);
            off_q[i] = beat_at(beats, perf.notes[i].offset_s);
        }
        // Compound metre when most divided beats divide in three.
        if (opts.triplets) {
            std::map<long, std::vector<double>> per_beat;
            for (double b : on_q) {
                const long k = static_cast<long>(std::floor(b + 0.08));
                const double f = b - k;
                if (f > 0.08) per_beat[k].push_back(f);
            }
            int ternary = 0, divided = 0;
            for (const auto& entry : per_beat) {
                const auto& fs = entry.second;  // a structured binding cannot be captured before C++20
                // The cheaper of halves/quarters and thirds/sixths, as the grid choice below costs them.
                auto cost = [&](std::initializer_list<int> divs) {
                    double best = 1e18;
                    for (int div : divs) {
                        double c = grid_penalty(div, false);
                        for (double f : fs) c += std::pow(f - std::round(f * div) / div, 2) / (0.05 * 0.05);
                        best = std::min(best, c);
                    }
                    return best;
                };
                ++divided;
                if (cost({3, 6}) < cost({2, 4})) ++ternary;
            }
            if (divided >= 4 && ternary > 0.6 * divided) compound = true;
        }
        if (compound) beat_q = Rational(3, 2);
        const double period = (beats.back() - beats.front()) / (beats.size() - 1);
        first_qpm = 60.0 / period * beat_q.to_double();
        for (size_t i = 0; i < perf.notes.size(); ++i) {
            on_q[i] *= beat_q.to_double();
            off_q[i] *= beat_q.to_double();
        }
    }
    // Score time starts at 0: a performance's silence before its first beat is not music.
    if (!file_tempo && opts.qpm <= 0 && !perf.notes.empty()) {
        const double shift = std::floor(*std::min_element(on_q.begin(), on_q.end()) / beat_q.to_double() + 0.1) * beat_q.to_double();
        for (size_t i = 0; i < perf.notes.size(); ++i) { on_q[i] -= shift; off_q[i] -= shift; }
    }

    // ---- A grid per beat: the division whose snapped onsets cost least (squared error in
    // standard deviations plus the division's penalty).
    const double sigma = score_midi ? 0.004 : 0.05;  // in beats
    const double bq = beat_q.to_double();
    std::vector<int> grid_divs = compound ? std::vector<int>{1, 3, 6, 2, 12} : std::vector<int>{1, 2, 4, 8, 3, 6, 12};
    if (!opts.triplets) grid_divs = compound ? std::vector<int>{1, 3, 6, 12} : std::vector<int>{1, 2, 4, 8};
    std::map<long, std::vector<double>> fractions;  // beat -> positions within it (in beats)
    auto beat_of = [&](double q) { return static_cast<long>(std::floor(q / bq + 0.5 / 24)); };
    for (size_t i = 0; i < perf.notes.size(); ++i) {
        const long k = beat_of(on_q[i]);
        fractions[k].push_back(on_q[i] / bq - k);
        if (score_midi) {
            const long ke = beat_of(off_q[i]);
            fractions[ke].push_back(off_q[i] / bq - ke);
        }
    }
    std::map<long, int> grid;
    for (const auto& [k, fs] : fractions) {
        int best = grid_divs.back();
        double best_cost = std::numeric_limits<double>::infinity();
        for (int div : grid_divs) {
            double c = grid_penalty(div, compound);
            for (double f : fs) {
                const double e = f - std::round(f * div) / div;
                c += e * e / (sigma * sigma);
            }
            if (c < best_cost) { best_cost = c; best = div; }
        }
        grid[k] = best;
    }
    auto snap = [&](double q, int default_div) {
        const long k = beat_of(q);
        auto it = grid.find(k);
        const int div = it != grid.end() ? it->second : default_div;
        const double f = q / bq - k;
        const long n = std::lround(f * div);
        return Rational(k) * beat_q + Rational(n, div) * beat_q;
    };

    std::vector<QNote> notes;
    for (size_t i = 0; i < perf.notes.size(); ++i) {
        QNote q;
        q.on = snap(on_q[i], 1);
        if (q.on < Rational(0)) q.on = Rational(0);
        q.off = snap(off_q[i], compound ? 6 : 4);
        q.pitch = std::clamp(perf.notes[i].pitch, 0, 127);
        q.velocity = perf.notes[i].velocity;
        q.dur_s = perf.notes[i].offset_s - perf.notes[i].onset_s;
        notes.push_back(q);
    }

    // ---- Staves.
    if (opts.split_pitch > 0) {
        for (auto& q : notes) q.staff = q.pitch >= opts.split_pitch ? 1 : 2;
    } else {
        assign_staves(notes);
    }

    // ---- Note ends of a performance: a note released a little before the next onset of its
    // staff was played legato, not followed by a rest.
    if (!score_midi) {
        for (int staff = 1; staff <= 2; ++staff) {
            std::vector<Rational> onsets;
            for (const auto& q : notes)
                if (q.staff == staff) onsets.push_back(q.on);
            std::sort(onsets.begin(), onsets.end());
            onsets.erase(std::unique(onsets.begin(), onsets.end()), onsets.end());
            for (size_t i = 0; i < notes.size(); ++i) {
                QNote& q = notes[i];
                if (q.staff != staff) continue;
                auto it = std::upper_bound(onsets.begin(), onsets.end(), q.on);
                if (it == onsets.end()) continue;
                const Rational next = *it;
                const double gap = next.to_double() - off_q[i];
                const double ioi = (next - q.on).to_double();
                if (q.off < next && gap < std::max(0.35 * ioi, 0.3 * bq)) q.off = next;
            }
        }
    }
    for (auto& q : notes) {
        if (q.off <= q.on) {
            const long k = beat_of(q.on.to_double());
            auto it = grid.find(k);
            const int div = it != grid.end() ? std::max(it->second, 2) : 4;
            q.off = q.on + beat_q / Rational(div);
        }
    }
    // One key sounds once per staff: a unison struck again ends the earlier note there.
    std::sort(notes.begin(), notes.end(), [](const QNote& a, const QNote& b) {
        return a.on != b.on ? a.on < b.on : a.pitch < b.pitch;
    });
    {
        std::map<std::pair<int, int>, size_t> sounding;
        std::vector<bool> drop(notes.size());
        for (size_t i = 0; i < notes.size(); ++i) {
            auto key = std::make_pair(notes[i].staff, notes[i].pitch);
            auto it = sounding.find(key);
            if (it != sounding.end()) {
                QNote& prev = notes[it->second];
                if (prev.on == notes[i].on) { prev.off = std::max(prev.off, notes[i].off); drop[i] = true; continue; }
                if (prev.off > notes[i].on) prev.off = notes[i].on;
            }
            sounding[key] = i;
        }
        std::vector<QNote> kept;
        for (size_t i = 0; i < notes.size(); ++i)
            if (!drop[i]) kept.push_back(notes[i]);
        notes = std::move(kept);
    }
    Rational end;
    for (const auto& q : notes) end = std::max(end, q.off);

    // ---- Metre and measures.
    std::vector<MeasureSpan> measures;
    auto push_measures = [&](Rational from, Rational to, const TimeSignature& ts) {
        const Rational len = ts.measure_length();
        Rational at = from;
        while (at < to) {
            const Rational l = std::min(len, to - at);
            measures.push_back({at, l, ts, at, std::nullopt});
            at += l;
        }
    };
    if (end.is_zero()) end = Rational(4);
    if (opts.beats > 0) {
        push_measures(Rational(0), end, make_time(opts.beats, opts.beat_type));
    } else if (file_tempo && !perf.meters.empty()) {
        // Each time signature holds until the next; one that lasts a single short measure next to
        // a longer one is an irregular measure (a pickup) of its neighbour's metre.
        struct Seg { Rational from, to; TimeSignature ts; };
        std::vector<Seg> segs;
        for (size_t i = 0; i < perf.meters.size(); ++i) {
            const double q = seconds_to_quarters(perf.tempos, perf.meters[i].time_s);
            const Rational from(std::llround(q * 48), 48);
            if (!segs.empty()) segs.back().to = from;
            if (!segs.empty() && segs.back().to <= segs.back().from) segs.pop_back();
            segs.push_back({from, end, make_time(perf.meters[i].beats, perf.meters[i].beat_type)});
        }
        if (!segs.empty() && segs.front().from > Rational(0)) segs.insert(segs.begin(), {Rational(0), segs.front().from, segs.front().ts});
        for (size_t i = 0; i < segs.size(); ++i) {
            if (segs[i].from >= end) break;
            const Rational to = std::min(segs[i].to, end);
            const Rational len = to - segs[i].from;
            const bool single = len <= segs[i].ts.measure_length();
            const TimeSignature* neighbour = nullptr;
            if (single && i + 1 < segs.size() && segs[i + 1].ts.measure_length() > len) neighbour = &segs[i + 1].ts;
            else if (single && i > 0 && segs[i - 1].ts.measure_length() > len) neighbour = &segs[i - 1].ts;
            if (neighbour) {
                const Rational nominal = i + 1 < segs.size() && neighbour == &segs[i + 1].ts ? to - neighbour->measure_length() : segs[i].from;
                measures.push_back({segs[i].from, len, *neighbour, nominal, std::nullopt});
            } else {
                push_measures(segs[i].from, to, segs[i].ts);
            }
        }
    } else if (score_midi) {
        push_measures(Rational(0), end, make_time(4, 4));
    } else {
        // Accent of each beat: loudness, length and bass of the notes that start on it.
        long n_beats = 1;  // up to the last beat that a note starts on
        for (const auto& q : notes) n_beats = std::max(n_beats, static_cast<long>(std::floor((q.on / beat_q).to_double())) + 1);
        std::vector<double> accent(n_beats, 0.0);
        for (const auto& q : notes) {
            const Rational b = q.on / beat_q;
            if (b.den() != 1 || b.num() >= n_beats) continue;
            accent[b.num()] += 0.5 + q.velocity / 127.0 + 0.5 * std::min(2.0, ((q.off - q.on) / beat_q).to_double()) +
                               (q.staff == 2 ? 0.3 : 0.0);
        }
        // Mean accent of the beats a bar line would fall on, relative to all beats; the simplest
        // reading (4/4, no pickup) wins unless another is clearly more accented.
        const double mean = std::max(1e-9, std::accumulate(accent.begin(), accent.end(), 0.0) / n_beats);
        double best = -1e9;
        int best_m = 4, best_phase = 0;
        const bool fast = !compound && 60.0 / first_qpm < 0.42;
        std::vector<std::pair<int, double>> candidates = {{4, 0.0}, {3, 0.04}, {2, 0.12}};
        if (fast) candidates.push_back({6, 0.08});
        for (const auto& [m, cost] : candidates) {
            for (int phase = 0; phase < m; ++phase) {
                double s = 0.0;
                int c = 0;
                for (long k = phase; k < n_beats; k += m) { s += accent[k]; ++c; }
                const double score = (c ? s / c / mean - 1.0 : 0.0) - cost - 0.08 * phase;
                if (score > best + 1e-9) { best = score; best_m = m; best_phase = phase; }
            }
        }
        TimeSignature ts;
        if (compound) ts = make_time(3 * best_m, 8);
        else if (fast && (best_m == 3 || best_m == 6)) {
            // A fast beat grouped in threes: eighths of a 3/8 or 6/8 bar, the beat an eighth.
            ts = make_time(best_m, 8);
            for (auto& q : notes) { q.on = q.on / Rational(2); q.off = q.off / Rational(2); }
            end = end / Rational(2);
            beat_q = Rational(1, 2);
            first_qpm /= 2.0;
        } else ts = make_time(best_m, 4);
        const Rational pickup = Rational(best_phase) * beat_q;
        if (pickup > Rational(0)) {
            measures.push_back({Rational(0), pickup, ts, pickup - ts.measure_length(), std::nullopt});
            push_measures(pickup, end, ts);
        } else {
            push_measures(Rational(0), end, ts);
        }
    }
    if (measures.empty()) push_measures(Rational(0), Rational(4), make_time(4, 4));
    if (measures.size() > 100000)
        throw Error("quantize: the performance spans " + std::to_string(measures.size()) +
                    " measures; refusing to write a score that long");

    // ---- Key: the file's signatures for a score MIDI, else estimated; pitches spelled near the
    // key's centre and the notes just before (Chew and Chen's centre of effect, simplified).
    Key key = estimate_key(perf);
    if (file_tempo && !perf.keys.empty()) {
        key.fifths = perf.keys.front().fifths;
        key.mode = perf.keys.front().minor ? "minor" : "major";
        for (size_t i = 1; i < perf.keys.size(); ++i) {
            const double q = seconds_to_quarters(perf.tempos, perf.keys[i].time_s);
            for (auto& m : measures)
                if (std::abs(m.start.to_double() - q) < 1e-3) {
                    Key k;
                    k.fifths = perf.keys[i].fifths;
                    k.mode = perf.keys[i].minor ? "minor" : "major";
                    m.key = k;
                }
        }
    }
    {
        Key current = key;
        size_t mi = 0;
        std::vector<int> recent;
        for (auto& q : notes) {
            while (mi + 1 < measures.size() && measures[mi + 1].start <= q.on) {
                ++mi;
                if (measures[mi].key) current = *measures[mi].key;
            }
            double centre = key_centre(current);
            if (!recent.empty()) {
                const double mean = std::accumulate(recent.begin(), recent.end(), 0.0) / recent.size();
                centre = 0.7 * centre + 0.3 * mean;
            }
            q.spelled = spell_pitch(q.pitch, centre);
            recent.push_back(fifths_position(q.spelled.step, q.spelled.alter));
            if (recent.size() > 12) recent.erase(recent.begin());
        }
    }

    // ---- Voices per staff: chords (same onset and end), coloured into voices; among free
    // voices the one that last played nearest takes the chord.
    std::array<std::vector<std::vector<Chord>>, 2> voices;
    for (int staff = 0; staff < 2; ++staff) {
        std::map<std::pair<Rational, Rational>, std::vector<size_t>> chords;
        for (size_t i = 0; i < notes.size(); ++i)
            if (notes[i].staff == staff + 1) chords[{notes[i].on, notes[i].off}].push_back(i);
        auto& vs = voices[staff];
        for (auto& [span, idx] : chords) {
            std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return notes[a].pitch < notes[b].pitch; });
            Chord c{span.first, span.second, idx, notes[idx.front()].pitch, notes[idx.back()].pitch};
            int chosen = -1;
            double chosen_d = 1e9;
            for (size_t v = 0; v < vs.size(); ++v)
                if (vs[v].back().off <= c.on) {
                    const double d = std::abs(0.5 * (vs[v].back().low + vs[v].back().high) - 0.5 * (c.low + c.high));
                    if (d < chosen_d) { chosen_d = d; chosen = static_cast<int>(v); }
                }
            if (chosen < 0 && static_cast<int>(vs.size()) < opts.max_voices_per_staff) {
                vs.emplace_back();
                chosen = static_cast<int>(vs.size()) - 1;
            }
            if (chosen < 0) {
                size_t v_min = 0;
                for (size_t v = 1; v < vs.size(); ++v)
                    if (vs[v].back().off < vs[v_min].back().off) v_min = v;
                Chord& last = vs[v_min].back();
                if (last.on == c.on) {  // same onset, different end: join it, keeping the shorter end
                    for (size_t i : c.notes) last.notes.push_back(i);
                    std::sort(last.notes.begin(), last.notes.end(), [&](size_t a, size_t b) { return notes[a].pitch < notes[b].pitch; });
                    last.off = std::min(last.off, c.off);
                    last.low = std::min(last.low, c.low);
                    last.high = std::max(last.high, c.high);
                    continue;
                }
                last.off = c.on;
                chosen = static_cast<int>(v_min);
            }
            vs[chosen].push_back(c);
        }
        // Voice 1 is the upper one.
        if (vs.size() == 2) {
            double m0 = 0, m1 = 0;
            for (const auto& c : vs[0]) m0 += c.low + c.high;
            for (const auto& c : vs[1]) m1 += c.low + c.high;
            if (m1 / std::max<size_t>(1, vs[1].size()) > m0 / std::max<size_t>(1, vs[0].size())) std::swap(vs[0], vs[1]);
        }
    }
    // Bass clef unless the left hand plays mostly above middle C.
    std::vector<int> lh;
    for (const auto& q : notes)
        if (q.staff == 2) lh.push_back(q.pitch);
    bool lh_treble = false;
    if (!lh.empty()) {
        std::nth_element(lh.begin(), lh.begin() + lh.size() / 2, lh.end());
        lh_treble = lh[lh.size() / 2] >= 62;
    }

    // ---- Measures.
    Score score;
    Part part;
    part.id = "P1";
    part.name = "Piano";
    {
        std::map<int, int> programs;
        for (const auto& n : perf.notes) ++programs[n.program];
        int best_count = -1;
        for (const auto& [p, c] : programs)
            if (c > best_count) { part.midi_program = p; best_count = c; }
    }
    const Rational beam_unit = [&] {
        const TimeSignature& ts = measures.front().time;
        if (ts.beat_type == 8 && ts.beats % 3 == 0) return Rational(3, 2);
        return Rational(1);
    }();
    TimeSignature last_time;
    Key last_key = key;
    size_t tempo_i = 1;
    int64_t divisions = 1;
    for (size_t mi = 0; mi < measures.size(); ++mi) {
        const MeasureSpan& ms = measures[mi];
        Measure m;
        m.number = std::to_string(mi + 1);
        const Rational m_on = ms.start, m_off = ms.start + ms.len;
        if (mi == 0 && ms.len < ms.time.measure_length()) m.implicit = true;
        const bool time_changes = mi == 0 || ms.time.beats != last_time.beats || ms.time.beat_type != last_time.beat_type;
        const bool key_changes = mi > 0 && ms.key && (ms.key->fifths != last_key.fifths);
        if (mi == 0 || time_changes || key_changes) {
            Attributes a;
            if (mi == 0) {
                a.key = key;
                a.staves = 2;
                auto clef = [](char sign, int line, int staff) {
                    Clef c;
                    c.sign = sign;
                    c.line = line;
                    c.staff = staff;
                    return c;
                };
                a.clefs = {clef('G', 2, 1), lh_treble ? clef('G', 2, 2) : clef('F', 4, 2)};
            }
            if (key_changes) a.key = *ms.key;
            if (time_changes) a.time = ms.time;
            m.elements.push_back(a);
            last_time = ms.time;
            if (ms.key) last_key = *ms.key;
        }
        if (mi == 0) {
            Direction d;
            d.tempo_qpm = std::round(first_qpm * 100.0) / 100.0;
            d.staff = 1;
            m.elements.push_back(d);
        }
        for (; tempo_i < tempo_marks.size() && tempo_marks[tempo_i].q < m_off.to_double() - 1e-9; ++tempo_i) {
            Direction d;
            d.tempo_qpm = std::round(tempo_marks[tempo_i].qpm * 100.0) / 100.0;
            d.staff = 1;
            d.offset = Rational(std::llround((tempo_marks[tempo_i].q - m_on.to_double()) * 48), 48);
            if (d.offset < Rational(0)) d.offset = Rational(0);
            m.elements.push_back(d);
        }
        // Accidentals in force per (staff, step, octave), in document order, as LMX reads them back.
        std::map<std::tuple<int, char, int>, int> in_force;
        Rational written;
        for (int staff = 0; staff < 2; ++staff) {
            const auto& vs = voices[staff];
            // The voices that play in this measure are numbered from the staff's first (1 or 5).
            std::vector<int> number_of(std::max<size_t>(1, vs.size()), -1);
            int voices_here = 0;
            for (size_t v = 0; v < vs.size(); ++v)
                for (const Chord& c : vs[v])
                    if (c.on < m_off && c.off > m_on) { number_of[v] = staff * 4 + 1 + voices_here++; break; }
            if (voices_here == 0) number_of[0] = staff * 4 + 1;
            const size_t n_voices = number_of.size();
            for (size_t v = 0; v < n_voices; ++v) {
                if (number_of[v] < 0) continue;  // silent here
                const int voice_number = number_of[v];
                // Items of this voice in the measure: chords and the rests between them.
                struct Item { Rational on, off; const Chord* chord; };
                std::vector<Item> items;
                Rational cursor = m_on;
                if (v < vs.size())
                    for (const Chord& c : vs[v]) {
                        const Rational on = std::max(c.on, m_on), off = std::min(c.off, m_off);
                        if (off <= on) continue;
                        if (on > cursor) items.push_back({cursor, on, nullptr});
                        items.push_back({on, off, &c});
                        cursor = off;
                    }
                const bool any_note = !items.empty();
                if (!any_note && v > 0) continue;  // an empty extra voice is left out
                std::vector<MeasureElement> out;
                if (!any_note && ms.len == ms.time.measure_length()) {
                    Note r;
                    r.is_rest = true;
                    r.measure_rest = true;
                    r.duration = ms.len;
                    r.voice = voice_number;
                    r.staff = staff + 1;
                    out.push_back(r);
                } else if (!any_note) {  // a pickup's empty staff: rests of written values
                    for (const Value* val : split_span(ms.start - ms.nominal_start, ms.len)) {
                        Note r;
                        r.is_rest = true;
                        r.duration = val->len;
                        r.type = val->type;
                        r.dots = val->dots;
                        r.voice = voice_number;
                        r.staff = staff + 1;
                        out.push_back(r);
                    }
                } else {
                    if (cursor < m_off) items.push_back({cursor, m_off, nullptr});
                    // Quarters (beats of the notation, from the metric origin) that need a triplet:
                    // a boundary of this voice inside them is not on a binary position.
                    const Rational origin = ms.nominal_start;
                    auto quarter_of = [&](const Rational& x) {
                        const Rational r = x - origin;
                        return static_cast<int64_t>(std::floor(r.to_double() + 1e-9));
                    };
                    std::map<int64_t, bool> tuplet_quarter;
                    for (const auto& it : items)
                        for (const Rational& x : {it.on, it.off}) {
                            const Rational r = x - origin;
                            if (!power_of_two(r.den())) tuplet_quarter[quarter_of(x)] = true;
                        }
                    struct Piece { Rational on, len; const Value* value; bool triplet; };
                    std::vector<std::vector<Piece>> pieces(items.size());
                    for (size_t ii = 0; ii < items.size(); ++ii) {
                        Rational x = items[ii].on;
                        const Rational y = items[ii].off;
                        while (x < y) {
                            const int64_t qi = quarter_of(x);
                            const Rational q_start = origin + Rational(qi), q_end = q_start + Rational(1);
                            if (tuplet_quarter.count(qi)) {
                                const Rational to = std::min(y, q_end);
                                const Rational scale(3, 2);
                                Rational at = x;
                                for (const Value* val : split_span((x - q_start) * scale, (to - x) * scale)) {
                                    pieces[ii].push_back({at, val->len / scale, val, true});
                                    at += val->len / scale;
                                }
                                if (at != to) pieces[ii].push_back({at, to - at, nullptr, true});
                                x = to;
                            } else {
                                // Up to the next triplet quarter (or the item's end).
                                Rational to = y;
                                for (const auto& [tq, _] : tuplet_quarter) {
                                    const Rational s = origin + Rational(tq);
                                    if (s > x && s < to) { to = s; break; }
                                }
                                Rational at = x;
                                for (const Value* val : split_span(x - origin, to - x)) {
                                    pieces[ii].push_back({at, val->len, val, false});
                                    at += val->len;
                                }
                                if (at != to) pieces[ii].push_back({at, to - at, nullptr, false});
                                x = to;
                            }
                        }
                    }
                    // Stems: two voices on the staff -> up and down; one -> away from the middle line.
                    const int middle = staff == 0 || lh_treble ? 71 : 50;
                    std::vector<Note*> firsts;  // first note of each written event, for beams
                    std::vector<Rational> first_on;
                    for (size_t ii = 0; ii < items.size(); ++ii) {
                        const Item& it = items[ii];
                        std::string stem;
                        if (it.chord) {
                            if (voices_here >= 2) stem = voice_number == staff * 4 + 1 ? "up" : "down";
                            else stem = (it.chord->low + it.chord->high) / 2.0 >= middle ? "down" : "up";
                        }
                        for (size_t k = 0; k < pieces[ii].size(); ++k) {
                            const Piece& pc = pieces[ii][k];
                            const bool tie_in = it.chord && (k > 0 || it.chord->on < m_on);
                            const bool tie_out = it.chord && (k + 1 < pieces[ii].size() || it.chord->off > m_off);
                            const size_t n_notes = it.chord ? it.chord->notes.size() : 1;
                            for (size_t pi = 0; pi < n_notes; ++pi) {
                                Note n;
                                n.is_rest = !it.chord;
                                n.chord = pi > 0;
                                n.duration = pc.len;
                                if (pc.value) {
                                    n.type = pc.value->type;
                                    n.dots = pc.value->dots;
                                }
                                if (pc.triplet) n.time_modification = TimeModification{3, 2, ""};
                                n.voice = voice_number;
                                n.staff = staff + 1;
                                if (it.chord) {
                                    const QNote& q = notes[it.chord->notes[pi]];
                                    n.pitch = q.spelled;
                                    n.velocity = q.velocity;
                                    if (n.type != "whole") n.stem = stem;
                                    n.tie_start = n.tied_start = tie_out;
                                    n.tie_stop = n.tied_stop = tie_in;
                                    const auto slot = std::make_tuple(staff, n.pitch.step, n.pitch.octave);
                                    auto f = in_force.find(slot);
                                    const int current = f != in_force.end() ? f->second : key_alter(n.pitch.step, last_key.fifths);
                                    if (current != n.pitch.alter && !tie_in) {
                                        static const std::map<int, std::string> names = {
                                            {-2, "flat-flat"}, {-1, "flat"}, {0, "natural"}, {1, "sharp"}, {2, "double-sharp"}};
                                        n.accidental = names.count(n.pitch.alter) ? names.at(n.pitch.alter) : "";
                                    }
                                    in_force[slot] = n.pitch.alter;
                                }
                                out.push_back(n);
                            }
                            firsts.push_back(nullptr);
                            first_on.push_back(pc.on);
                        }
                    }
                    // Pointers into `out` once it no longer grows: the first element of each event.
                    {
                        size_t e = 0;
                        for (auto& el : out) {
                            Note* n = std::get_if<Note>(&el);
                            if (n && !n->chord) firsts[e++] = n;
                        }
                    }
                    // Tuplet brackets: each triplet quarter's first and last event.
                    for (size_t e = 0; e < firsts.size(); ++e) {
                        Note* n = firsts[e];
                        if (!n->time_modification) continue;
                        const int64_t qi = quarter_of(first_on[e]);
                        const bool first = e == 0 || !firsts[e - 1]->time_modification || quarter_of(first_on[e - 1]) != qi;
                        const bool last = e + 1 == firsts.size() || !firsts[e + 1]->time_modification || quarter_of(first_on[e + 1]) != qi;
                        if (first) n->tuplets.push_back("start");
                        if (last) n->tuplets.push_back("stop");
                    }
                    // Beams: runs of eighths and shorter within one beam unit; one beam level per flag.
                    auto flags = [](const Note* n) {
                        if (n->is_rest) return 0;
                        if (n->type == "eighth") return 1;
                        if (n->type == "16th") return 2;
                        if (n->type == "32nd") return 3;
                        if (n->type == "64th") return 4;
                        return 0;
                    };
                    auto unit_of = [&](const Rational& x) {
                        const Rational u = beam_unit.den() == 1 && ms.time.beat_type == 8 && ms.time.beats == 3 ? ms.time.measure_length() : beam_unit;
                        return static_cast<int64_t>(std::floor(((x - origin) / u).to_double() + 1e-9));
                    };
                    size_t e = 0;
                    while (e < firsts.size()) {
                        if (!flags(firsts[e])) { ++e; continue; }
                        size_t f = e + 1;
                        while (f < firsts.size() && flags(firsts[f]) && unit_of(first_on[f]) == unit_of(first_on[e])) ++f;
                        if (f - e >= 2) {
                            // Beamed notes share one stem direction: the first one's.
                            for (size_t k = e; k < f; ++k) firsts[k]->stem = firsts[e]->stem;
                            for (int level = 1; level <= 4; ++level) {
                                size_t k = e;
                                while (k < f) {
                                    if (flags(firsts[k]) < level) { ++k; continue; }
                                    size_t l = k + 1;
                                    while (l < f && flags(firsts[l]) >= level) ++l;
                                    if (l - k >= 2 || level == 1) {
                                        for (size_t j = k; j < l; ++j)
                                            firsts[j]->beams.push_back({level, j == k ? "begin" : j + 1 == l ? "end" : "continue"});
                                    } else {
                                        firsts[k]->beams.push_back({level, k == e ? "forward hook" : "backward hook"});
                                    }
                                    k = l;
                                }
                            }
                        }
                        e = f;
                    }
                    // Chord members follow their first note's stem.
                    std::string stem;
                    for (auto& el : out)
                        if (Note* n = std::get_if<Note>(&el)) {
                            if (!n->chord) stem = n->stem;
                            else if (!n->stem.empty()) n->stem = stem;
                        }
                }
                if (!written.is_zero()) m.elements.push_back(Backup{written});
                for (auto& el : out) {
                    if (const Note* n = std::get_if<Note>(&el)) divisions = std::lcm(divisions, n->duration.den());
                    m.elements.push_back(std::move(el));
                }
                written = ms.len;
            }
        }
        part.measures.push_back(std::move(m));
    }
    // Divisions: every duration a whole number of them.
    for (auto& el : part.measures.front().elements)
        if (auto* a = std::get_if<Attributes>(&el)) {
            a->divisions = static_cast<int>(std::min<int64_t>(divisions, 1 << 20));
            break;
        }
    part.measures.back().barlines.push_back(Barline{});  // right, no repeat, no ending
    score.parts.push_back(std::move(part));
    return score;
}

}  // namespace umt
