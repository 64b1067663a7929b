// Procedural two-staff piano pieces: rhythm by beat patterns, melody by a random walk,
// left hand by harmony patterns, then notation passes (ties, accidentals, beams, stems).
#include "umt/core/generate.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "umt/core/error.hpp"

namespace umt {
namespace {

// Only the raw mt19937_64 output is standardized, so all derived draws are ours.
class Rng {
public:
    explicit Rng(uint64_t seed) : eng_(seed ^ 0x9E3779B97F4A7C15ULL) {}
    int below(int n) { return static_cast<int>(eng_() % static_cast<uint64_t>(n)); }
    int range(int lo, int hi) { return lo + below(hi - lo + 1); }
    double real() { return static_cast<double>(eng_() >> 11) * (1.0 / 9007199254740992.0); }
    bool chance(double p) { return real() < p; }
    size_t weighted(const std::vector<double>& w) {
        double total = std::accumulate(w.begin(), w.end(), 0.0);
        double x = real() * total;
        for (size_t i = 0; i < w.size(); ++i) {
            if (x < w[i]) return i;
            x -= w[i];
        }
        return w.size() - 1;
    }

private:
    std::mt19937_64 eng_;
};

// Diatonic index: octave * 7 + step (C = 0 ... B = 6).
constexpr char kSteps[] = "CDEFGAB";
constexpr int kTrebleMiddle = 4 * 7 + 6;  // B4, the middle line of a treble staff
constexpr int kBassMiddle = 3 * 7 + 1;    // D3, the middle line of a bass staff

int key_alter(int step, int fifths) {
    static const int sharp_order[7] = {3, 0, 4, 1, 5, 2, 6};  // F C G D A E B
    static const int flat_order[7] = {6, 2, 5, 1, 4, 0, 3};   // B E A D G C F
    for (int i = 0; i < fifths && i < 7; ++i)
        if (sharp_order[i] == step) return 1;
    for (int i = 0; i < -fifths && i < 7; ++i)
        if (flat_order[i] == step) return -1;
    return 0;
}

Pitch make_pitch(int diatonic, int alter) {
    Pitch p;
    int octave = diatonic >= 0 ? diatonic / 7 : (diatonic - 6) / 7;
    p.step = kSteps[diatonic - octave * 7];
    p.octave = octave;
    p.alter = alter;
    return p;
}

int diatonic_of(const Pitch& p) {
    const std::string steps = kSteps;
    return p.octave * 7 + static_cast<int>(steps.find(p.step));
}

struct Slot {
    Rational dur;
    bool triplet = false;
};

struct Pattern {
    std::vector<Rational> durs;
    bool triplet = false;
    int beats = 1;  // beats the pattern spans
    double weight = 1;
};

// The beat unit in quarters: what rhythm patterns fill one at a time.
Rational beat_unit(const TimeSignature& t) {
    if (t.beat_type == 2) return Rational(2);
    if (t.beat_type == 8) return t.beats % 3 == 0 ? Rational(3, 2) : Rational(1, 2);
    return Rational(1);
}

std::vector<Pattern> patterns_for(const Rational& b, bool plain, int beat_index, int remaining) {
    std::vector<Pattern> ps;
    auto add = [&](std::vector<Rational> d, double w, int beats = 1, bool trip = false) {
        if (beats <= remaining && w > 0) ps.push_back({std::move(d), trip, beats, w});
    };
    const Rational h(1, 2), q(1, 4), t(1, 3);
    if (b == Rational(1)) {
        add({1}, 3);
        add({h, h}, plain ? 1 : 3);
        if (!plain) {
            add({q, q, q, q}, 1);
            add({Rational(3, 4), q}, 1);
            add({h, q, q}, 1);
            add({q, q, h}, 1);
            add({t, t, t}, 0.6, 1, true);
            add({Rational(3, 2), h}, 0.8, 2);
        }
        add({2}, plain ? 2 : 1.5, 2);
        if (beat_index == 0) add({3}, plain ? 1 : 0.5, 3);
        if (beat_index == 0) add({4}, plain ? 0.5 : 0.3, 4);
    } else if (b == Rational(3, 2)) {
        add({Rational(3, 2)}, plain ? 3 : 2);
        add({1, h}, plain ? 1 : 2);
        if (!plain) {
            add({h, h, h}, 3);
            add({h, 1}, 0.5);
            add({Rational(3, 4), q, h}, 0.7);
            add({q, q, q, q, q, q}, 0.4);
        }
        add({3}, plain ? 2 : 1, 2);
    } else if (b == Rational(1, 2)) {
        add({h}, 3);
        if (!plain) add({q, q}, 2);
        add({1}, plain ? 2 : 1, 2);
    } else {  // half-note beats
        add({2}, plain ? 3 : 2);
        add({1, 1}, plain ? 1 : 1.5);
        if (!plain) {
            add({1, h, h}, 1);
            add({h, h, 1}, 1);
            add({Rational(3, 2), h}, 1);
            add({h, h, h, h}, 1);
            add({t, t, t, 1}, 0.4, 1, true);
        }
        if (beat_index == 0) add({4}, plain ? 1 : 0.5, 2);
    }
    return ps;
}

std::vector<Slot> make_rhythm(Rng& rng, const TimeSignature& ts, bool plain) {
    const Rational b = beat_unit(ts);
    const Rational len = ts.measure_length();
    const int beats = static_cast<int>((len / b).to_double() + 0.5);
    std::vector<Slot> slots;
    for (int i = 0; i < beats;) {
        auto ps = patterns_for(b, plain, i, beats - i);
        std::vector<double> w;
        for (const auto& p : ps) w.push_back(p.weight);
        const Pattern& p = ps[rng.weighted(w)];
        const Rational third(1, 3);
        for (const auto& d : p.durs) slots.push_back({d, p.triplet && d == third});
        i += p.beats;
    }
    return slots;
}

bool type_for(const Rational& d, std::string& type, int& dots) {
    static const std::vector<std::pair<Rational, std::pair<const char*, int>>> table = {
        {Rational(1, 8), {"32nd", 0}}, {Rational(1, 4), {"16th", 0}}, {Rational(3, 8), {"16th", 1}},
        {Rational(1, 2), {"eighth", 0}}, {Rational(3, 4), {"eighth", 1}}, {Rational(1), {"quarter", 0}},
        {Rational(3, 2), {"quarter", 1}}, {Rational(2), {"half", 0}}, {Rational(3), {"half", 1}},
        {Rational(4), {"whole", 0}}, {Rational(6), {"whole", 1}}};
    for (const auto& [dur, td] : table)
        if (dur == d) {
            type = td.first;
            dots = td.second;
            return true;
        }
    return false;
}

// One onset of one voice: a rest, a note or a chord (notes ascending).
struct Event {
    std::vector<Note> notes;
    Rational onset;
    bool tie_from_prev = false;
};

struct VoiceSpec {
    int voice = 1;
    int staff = 1;
};

Note base_note(const VoiceSpec& v, const Rational& dur, bool triplet, bool rest) {
    Note n;
    n.is_rest = rest;
    n.voice = v.voice;
    n.staff = v.staff;
    n.duration = dur;
    if (triplet) {
        n.type = "eighth";
        n.time_modification = TimeModification{3, 2, "eighth"};
    } else if (!type_for(dur, n.type, n.dots)) {
        throw Error("generator produced an unwritable duration " + dur.str());
    }
    return n;
}

// Fills in tuplet start/stop marks over runs of triplet slots.
void mark_tuplets(std::vector<Event>& evs) {
    int run = 0;
    for (size_t i = 0; i < evs.size(); ++i) {
        if (!evs[i].notes[0].time_modification) { run = 0; continue; }
        if (run == 0) evs[i].notes[0].tuplets.push_back("start");
        if (++run == 3) {
            evs[i].notes[0].tuplets.push_back("stop");
            run = 0;
        }
    }
}

struct Harmony {
    int root = 0;  // diatonic index in the bass register
};

class Generator {
public:
    explicit Generator(const GeneratorOptions& o) : opts_(o), rng_(o.seed) {}

    Score run() {
        if (opts_.measures < 1) throw Error("generate: --measures must be at least 1");
        Score score;
        score.title = "Generated piece " + std::to_string(opts_.seed);
        score.composer = "umt generate";
        Part part;
        part.id = "P1";
        part.name = "Piano";
        part.midi_program = 0;
        part.midi_channel = 0;

        choose_start();
        melody_ = kTrebleMiddle + rng_.range(-2, 4);
        int lh_high_left = 0;  // measures left in treble-clef mode for the left hand
        bool lh_high = false;
        bool key_changed = false, time_changed = false;
        const int n = opts_.measures;

        for (int m = 0; m < n; ++m) {
            Measure meas;
            bool key_change_here = false;
            meas.number = std::to_string(m + 1);
            const bool last = m == n - 1;

            // Attributes at the start of the measure (first measure, key or time change).
            if (m == 0) {
                Attributes a;
                a.key = Key{fifths_, minor_ ? "minor" : "major"};
                a.time = time_;
                a.staves = 2;
                a.clefs = {Clef{'G', 2, 0, 1}, Clef{'F', 4, 0, 2}};
                meas.elements.push_back(a);
            } else if (!key_changed && m >= 4 && m < n - 2 && rng_.chance(0.05)) {
                key_changed = key_change_here = true;
                int nf = fifths_;
                while (nf == fifths_) nf = std::clamp(fifths_ + rng_.range(-3, 3), -6, 6);
                fifths_ = nf;
                Attributes a;
                a.key = Key{fifths_, minor_ ? "minor" : "major"};
                meas.elements.push_back(a);
            } else if (!time_changed && m >= 4 && m < n - 2 && rng_.chance(0.03)) {
                time_changed = true;
                TimeSignature nt = pick_time();
                if (nt.beats != time_.beats || nt.beat_type != time_.beat_type) {
                    time_ = nt;
                    Attributes a;
                    a.time = time_;
                    meas.elements.push_back(a);
                }
            }

            // Directions: the tempo once, dynamics now and then.
            if (m == 0) {
                Direction d;
                d.tempo_qpm = static_cast<double>(rng_.range(56, 152));
                meas.elements.push_back(d);
            }
            if (m == 0 || rng_.chance(0.12)) meas.elements.push_back(pick_dynamic());

            const Rational len = time_.measure_length();
            const bool two_voices = !last && rng_.chance(0.2);
            const bool rh_rest = !two_voices && m > 0 && !last && rng_.chance(0.02);
            Harmony h = pick_harmony(last);

            // Right hand.
            std::vector<Event> v1 = rh_rest ? measure_rest({1, 1}, len)
                                            : melody_voice({1, 1}, two_voices);
            std::vector<Event> v2;
            if (two_voices) v2 = inner_voice({2, 1});

            // Left hand, with treble-clef stretches.
            bool clef_change = false;
            if (lh_high_left > 0) {
                if (--lh_high_left == 0) { lh_high = false; clef_change = true; }
            } else if (m > 0 && !last && rng_.chance(0.06)) {
                lh_high = true;
                lh_high_left = rng_.range(1, 3);
                clef_change = true;
            }
            std::vector<Event> lh = left_hand({5, 2}, h, lh_high);

            if (last) add_fermatas(v1, lh);
            if (!key_change_here && !rh_rest && !two_voices) tie_across_barline(part, v1);
            std::vector<Event>& rh1 = v1;
            apply_ties(rh1);
            apply_ties(lh);
            accidentals({&rh1, &v2}, 1);
            accidentals({&lh}, 2);
            mark_tuplets(rh1);
            mark_tuplets(lh);
            beams_and_stems(rh1, two_voices ? +1 : 0, kTrebleMiddle);
            beams_and_stems(v2, -1, kTrebleMiddle);
            beams_and_stems(lh, 0, lh_high ? kTrebleMiddle : kBassMiddle);
            slurs_and_articulations(rh1);

            append(meas, rh1);
            if (two_voices) {
                meas.elements.push_back(Backup{len});
                append(meas, v2);
            }
            meas.elements.push_back(Backup{len});
            if (clef_change) {
                Attributes a;
                a.clefs = {lh_high ? Clef{'G', 2, 0, 2} : Clef{'F', 4, 0, 2}};
                meas.elements.push_back(a);
            }
            append(meas, lh);
            if (last) {
                Barline bl;
                bl.location = "right";
                meas.barlines.push_back(bl);
            }
            part.measures.push_back(std::move(meas));
        }
        set_divisions(part);
        score.parts.push_back(std::move(part));
        return score;
    }

private:
    TimeSignature pick_time() {
        struct T { int b, t; double w; };
        static const std::vector<T> ts = {{4, 4, 4}, {3, 4, 3}, {2, 4, 2}, {6, 8, 2}, {2, 2, 1},
                                          {3, 8, 1}, {9, 8, 0.7}, {12, 8, 0.7}, {5, 4, 0.4},
                                          {3, 2, 0.3}, {7, 8, 0.3}, {5, 8, 0.3}};
        std::vector<double> w;
        for (const auto& t : ts) w.push_back(t.w);
        const T& t = ts[rng_.weighted(w)];
        TimeSignature sig{t.b, t.t, ""};
        if (t.b == 4 && t.t == 4 && rng_.chance(0.3)) sig.symbol = "common";
        if (t.b == 2 && t.t == 2 && rng_.chance(0.3)) sig.symbol = "cut";
        return sig;
    }

    void choose_start() {
        // Keys near C are commoner, but every signature up to six accidentals occurs.
        std::vector<double> w;
        for (int f = -6; f <= 6; ++f) w.push_back(7.0 - std::abs(f));
        fifths_ = static_cast<int>(rng_.weighted(w)) - 6;
        minor_ = rng_.chance(0.3);
        time_ = pick_time();
        tonic_ = ((fifths_ * 4) % 7 + 7) % 7;
        if (minor_) tonic_ = (tonic_ + 5) % 7;
    }

    Direction pick_dynamic() {
        static const char* marks[] = {"pp", "p", "mp", "mf", "f", "ff"};
        static const double percent[] = {36, 54, 71, 89, 106, 124};
        int i = rng_.below(6);
        Direction d;
        d.dynamic_mark = marks[i];
        d.dynamics = percent[i];
        d.staff = 1;
        return d;
    }

    Harmony pick_harmony(bool last) {
        static const int degrees[] = {0, 3, 4, 5, 1};
        static const std::vector<double> w = {4, 2, 3, 1.5, 1};
        int deg = last ? 0 : degrees[rng_.weighted(w)];
        int step = (tonic_ + deg) % 7;
        Harmony h;
        h.root = 2 * 7 + step;        // C2..B2
        if (step < 2) h.root += 7;    // keep the bass above D2 most of the time
        return h;
    }

    Note pitched(const VoiceSpec& v, const Slot& s, int diatonic, int alter) {
        Note n = base_note(v, s.dur, s.triplet, false);
        n.pitch = make_pitch(diatonic, alter);
        return n;
    }

    int walk(int lo, int hi) {
        static const int steps[] = {-1, 1, -2, 2, 0, -3, 3, -4, 4, -5, 5};
        static const std::vector<double> w = {3, 3, 1.5, 1.5, 0.7, 0.3, 0.3, 0.25, 0.25, 0.15, 0.15};
        int d = melody_ + steps[rng_.weighted(w)];
        if (d < lo) d = lo + (lo - d);
        if (d > hi) d = hi - (d - hi);
        melody_ = std::clamp(d, lo, hi);
        return melody_;
    }

    std::vector<Event> measure_rest(const VoiceSpec& v, const Rational& len) {
        Note n;
        n.is_rest = true;
        n.measure_rest = true;
        n.duration = len;
        n.voice = v.voice;
        n.staff = v.staff;
        return {Event{{n}, Rational(0), false}};
    }

    std::vector<Event> melody_voice(const VoiceSpec& v, bool upper_of_two) {
        // Mostly C4..A5, with rare excursions onto ledger lines above.
        int lo = upper_of_two ? 5 * 7 + 0 : 4 * 7 + 0;
        int hi = rng_.chance(0.1) ? 6 * 7 + 2 : 5 * 7 + 5;
        melody_ = std::clamp(melody_, lo, hi);
        std::vector<Event> evs;
        Rational t;
        for (const Slot& s : make_rhythm(rng_, time_, false)) {
            Event e;
            e.onset = t;
            t += s.dur;
            if (!s.triplet && rng_.chance(0.06)) {
                e.notes.push_back(base_note(v, s.dur, false, true));
                evs.push_back(std::move(e));
                continue;
            }
            const Event* prev = evs.empty() ? nullptr : &evs.back();
            bool can_tie = prev && !prev->notes[0].is_rest && prev->notes.size() == 1 &&
                           !s.triplet && !prev->notes[0].time_modification;
            if (can_tie && rng_.chance(0.07)) {
                Note n = pitched(v, s, diatonic_of(prev->notes[0].pitch), prev->notes[0].pitch.alter);
                e.notes.push_back(n);
                e.tie_from_prev = true;
                evs.push_back(std::move(e));
                continue;
            }
            int d = walk(lo, hi);
            int alter = key_alter(d % 7, fifths_);
            bool chord = !upper_of_two && !s.triplet && s.dur >= Rational(1, 2) && rng_.chance(0.25);
            if (!upper_of_two && !chord && rng_.chance(0.07)) {
                int na = alter + (rng_.chance(0.5) ? 1 : -1);
                if (std::abs(na) < 2 || rng_.chance(0.2)) alter = std::clamp(na, -2, 2);
            }
            if (!s.triplet && s.dur >= Rational(1, 2) && rng_.chance(0.03)) {
                Event g;
                g.onset = e.onset;
                Note gn;
                gn.grace = true;
                gn.grace_slash = rng_.chance(0.7);
                gn.type = "eighth";
                gn.voice = v.voice;
                gn.staff = v.staff;
                gn.stem = "up";
                gn.pitch = make_pitch(d + 1, key_alter((d + 1) % 7, fifths_));
                g.notes.push_back(gn);
                evs.push_back(std::move(g));
            }
            std::vector<int> ds = {d};
            if (chord) {
                static const std::vector<std::vector<int>> below = {{-2}, {-3}, {-7}, {-2, -4}, {-4, -7}, {-5}};
                for (int off : below[rng_.below(static_cast<int>(below.size()))]) ds.push_back(d + off);
            }
            std::sort(ds.begin(), ds.end());
            for (size_t i = 0; i < ds.size(); ++i) {
                int a = ds[i] == d ? alter : key_alter(ds[i] % 7, fifths_);
                Note n = pitched(v, s, ds[i], a);
                n.chord = i > 0;
                e.notes.push_back(n);
            }
            evs.push_back(std::move(e));
        }
        return evs;
    }

    std::vector<Event> inner_voice(const VoiceSpec& v) {
        std::vector<Event> evs;
        Rational t;
        int d = 4 * 7 + rng_.range(0, 4);
        for (const Slot& s : make_rhythm(rng_, time_, true)) {
            Event e;
            e.onset = t;
            t += s.dur;
            d = std::clamp(d + rng_.range(-2, 2), 3 * 7 + 4, 4 * 7 + 6);
            e.notes.push_back(pitched(v, s, d, key_alter(d % 7, fifths_)));
            evs.push_back(std::move(e));
        }
        return evs;
    }

    std::vector<Event> left_hand(const VoiceSpec& v, const Harmony& h, bool high) {
        const int shift = high ? 14 : 0;
        const int r = h.root + shift;
        const Rational b = beat_unit(time_);
        std::vector<Event> evs;
        Rational t;
        auto push = [&](const Slot& s, std::vector<int> ds, bool arp = false) {
            Event e;
            e.onset = t;
            t += s.dur;
            std::sort(ds.begin(), ds.end());
            for (size_t i = 0; i < ds.size(); ++i) {
                Note n = pitched(v, s, ds[i], key_alter(((ds[i] % 7) + 7) % 7, fifths_));
                n.chord = i > 0;
                n.arpeggiate = arp;
                e.notes.push_back(n);
            }
            evs.push_back(std::move(e));
        };
        const bool compound = b == Rational(3, 2);
        // Styles: block chords, bass notes, Alberti (simple time), broken chords (compound).
        int style = static_cast<int>(rng_.weighted({3.0, 3.0, compound ? 0.0 : 2.0, compound ? 2.0 : 0.0}));
        if (b == Rational(1, 2)) style = 1;
        const Rational len = time_.measure_length();
        if (style == 2) {  // Alberti bass in eighths
            const int fig[4] = {r, r + 4, r + 2, r + 4};
            for (int i = 0; t < len; ++i) push({Rational(1, 2)}, {fig[i % 4]});
        } else if (style == 3) {  // broken chords in compound time
            const int fig[3] = {r, r + 4, r + 7};
            for (int i = 0; t < len; ++i) push({Rational(1, 2)}, {fig[i % 3]});
        } else {
            bool arp = style == 0 && rng_.chance(0.05);
            for (const Slot& s : make_rhythm(rng_, time_, true)) {
                if (rng_.chance(0.03)) {
                    Event e;
                    e.onset = t;
                    t += s.dur;
                    e.notes.push_back(base_note(v, s.dur, false, true));
                    evs.push_back(std::move(e));
                    continue;
                }
                if (style == 0) push(s, rng_.chance(0.5) ? std::vector<int>{r, r + 2, r + 4}
                                                         : std::vector<int>{r, r + 4, r + 7}, arp);
                else push(s, rng_.chance(0.3) ? std::vector<int>{r, r + 7} : std::vector<int>{r});
            }
        }
        return evs;
    }

    void add_fermatas(std::vector<Event>& v1, std::vector<Event>& lh) {
        for (auto* evs : {&v1, &lh})
            if (!evs->empty() && !evs->back().notes[0].is_rest) evs->back().notes[0].fermata = true;
    }

    // Ties the last right-hand note of the previous measure into this one, now and then,
    // when the repeated pitch needs no accidental; the previous measure is already in
    // the part, so its note is patched there.
    void tie_across_barline(Part& part, std::vector<Event>& cur) {
        if (part.measures.empty() || cur.empty() || !rng_.chance(0.12)) return;
        Note* a = nullptr;
        auto& els = part.measures.back().elements;
        for (auto it = els.rbegin(); it != els.rend(); ++it)
            if (auto* n = std::get_if<Note>(&*it); n && n->voice == 1 && n->staff == 1) { a = n; break; }
        Event& b = cur.front();
        if (!a || a->chord || a->is_rest || a->grace || a->time_modification || b.notes.size() != 1 ||
            b.notes[0].is_rest || b.notes[0].grace || b.notes[0].time_modification)
            return;
        int d = diatonic_of(a->pitch);
        if (a->pitch.alter != key_alter(d % 7, fifths_)) return;
        b.notes[0].pitch = a->pitch;
        a->tie_start = a->tied_start = true;
        b.notes[0].tie_stop = b.notes[0].tied_stop = true;
    }

    static void apply_ties(std::vector<Event>& evs) {
        for (size_t i = 1; i < evs.size(); ++i) {
            if (!evs[i].tie_from_prev) continue;
            Note& a = evs[i - 1].notes[0];
            Note& b = evs[i].notes[0];
            a.tie_start = a.tied_start = true;
            b.tie_stop = b.tied_stop = true;
        }
    }

    // Printed accidentals follow the measure's running state per (step, octave) on
    // one staff; a tied continuation never prints one.
    void accidentals(std::vector<std::vector<Event>*> voices, int) {
        std::vector<std::pair<int, int>> state;  // (diatonic, alter) changed in this measure
        auto current = [&](int d) {
            for (auto it = state.rbegin(); it != state.rend(); ++it)
                if (it->first == d) return it->second;
            return key_alter(((d % 7) + 7) % 7, fifths_);
        };
        static const char* names[] = {"flat-flat", "flat", "natural", "sharp", "double-sharp"};
        for (auto* evs : voices)
            for (auto& e : *evs)
                for (auto& n : e.notes) {
                    if (n.is_rest) continue;
                    int d = diatonic_of(n.pitch);
                    if (!n.tie_stop && n.pitch.alter != current(d)) n.accidental = names[n.pitch.alter + 2];
                    state.emplace_back(d, n.pitch.alter);
                }
    }

    // Beams group eighths and shorter within a beat; stems follow the voice (two voices
    // on a staff) or the notes' distance from the middle line, uniformly over a beam.
    void beams_and_stems(std::vector<Event>& evs, int forced, int middle) {
        Rational group = beat_unit(time_) == Rational(3, 2) ? Rational(3, 2) : Rational(1);
        auto beamable = [](const Event& e) {
            const Note& n = e.notes[0];
            return !n.is_rest && !n.grace && (n.type == "eighth" || n.type == "16th" || n.type == "32nd");
        };
        auto group_of = [&](const Event& e) { return static_cast<int>((e.onset / group).to_double() + 1e-9); };
        auto dir_for = [&](size_t a, size_t b) {
            if (forced) return std::string(forced > 0 ? "up" : "down");
            int sum = 0;
            for (size_t i = a; i < b; ++i) {
                int lo = diatonic_of(evs[i].notes.front().pitch) - middle;
                int hi = diatonic_of(evs[i].notes.back().pitch) - middle;
                sum += std::abs(hi) > std::abs(lo) ? hi : lo;
            }
            return std::string(sum >= 0 ? "down" : "up");
        };
        size_t i = 0;
        while (i < evs.size()) {
            if (evs[i].notes[0].grace) { ++i; continue; }
            size_t j = i + 1;
            if (beamable(evs[i]))
                while (j < evs.size() && beamable(evs[j]) && group_of(evs[j]) == group_of(evs[i])) ++j;
            if (!evs[i].notes[0].is_rest && evs[i].notes[0].type != "whole") {
                std::string dir = dir_for(i, j);
                for (size_t k = i; k < j; ++k)
                    for (auto& n : evs[k].notes) n.stem = dir;
            }
            if (j - i >= 2) {
                for (size_t k = i; k < j; ++k)
                    evs[k].notes[0].beams.push_back({1, k == i ? "begin" : k + 1 == j ? "end" : "continue"});
                // Second-level beams over runs of sixteenths, hooks for lone ones.
                size_t k = i;
                while (k < j) {
                    if (evs[k].notes[0].type != "16th") { ++k; continue; }
                    size_t l = k;
                    while (l < j && evs[l].notes[0].type == "16th") ++l;
                    if (l - k == 1) {
                        evs[k].notes[0].beams.push_back({2, k == i ? "forward hook" : "backward hook"});
                    } else {
                        for (size_t x = k; x < l; ++x)
                            evs[x].notes[0].beams.push_back({2, x == k ? "begin" : x + 1 == l ? "end" : "continue"});
                    }
                    k = l;
                }
            }
            i = j;
        }
    }

    void slurs_and_articulations(std::vector<Event>& evs) {
        for (size_t i = 0; i < evs.size(); ++i) {
            Note& n = evs[i].notes[0];
            if (n.is_rest || n.grace) continue;
            if (!n.beams.empty() && n.beams[0].value == "begin" && rng_.chance(0.25)) {
                size_t j = i;
                while (j < evs.size() && (evs[j].notes[0].beams.empty() || evs[j].notes[0].beams[0].value != "end")) ++j;
                if (j < evs.size()) {
                    n.slurs.push_back({"start", 1});
                    evs[j].notes[0].slurs.push_back({"stop", 1});
                    i = j;
                    continue;
                }
            }
            if (n.type == "quarter" || n.type == "eighth") {
                if (rng_.chance(0.08)) for (auto& c : evs[i].notes) c.staccato = true;
                else if (rng_.chance(0.03)) evs[i].notes[0].accent = true;
            } else if (n.type == "half" && rng_.chance(0.04)) {
                evs[i].notes[0].tenuto = true;
            }
        }
    }

    void append(Measure& meas, std::vector<Event>& evs) {
        for (auto& e : evs)
            for (auto& n : e.notes) meas.elements.push_back(n);
    }

    static void set_divisions(Part& part) {
        int64_t div = 1;
        for (const auto& m : part.measures)
            for (const auto& el : m.elements) {
                int64_t den = 1;
                if (auto* n = std::get_if<Note>(&el)) den = n->duration.den();
                else if (auto* b = std::get_if<Backup>(&el)) den = b->duration.den();
                div = std::lcm(div, den);
            }
        std::get<Attributes>(part.measures[0].elements[0]).divisions = static_cast<int>(div);
    }

    GeneratorOptions opts_;
    Rng rng_;
    int fifths_ = 0;
    bool minor_ = false;
    int tonic_ = 0;
    TimeSignature time_;
    int melody_ = kTrebleMiddle;
};

}  // namespace

Score generate_piano_score(const GeneratorOptions& opts) { return Generator(opts).run(); }

}  // namespace umt
