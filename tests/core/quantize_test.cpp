// MIDI -> Score quantizer: a known rhythm played with jitter comes back exactly through MusicXML.
#include "umt/core/quantize.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "umt/core/error.hpp"
#include "umt/io/lmx.hpp"
#include "umt/core/playback.hpp"
#include "umt/io/midi.hpp"
#include "umt/io/musicxml.hpp"

namespace {

using umt::NoteEvent;
using umt::Performance;

// (pitch, onset, end) in quarters.
using QNote = std::tuple<int, double, double>;

const std::vector<QNote> kRhythm = {
    // right hand: quarter, two eighths, a dotted half tied over the barline, 16th + dotted 8th, chord
    {72, 0, 1}, {74, 1, 1.5}, {76, 1.5, 2}, {77, 2, 5}, {79, 5, 5.25}, {81, 5.25, 6}, {72, 6, 8}, {76, 6, 8},
    // left hand: whole, then two voices (G2 half against E3 quarter + C3 quarter), a rest at the end
    {48, 0, 4}, {43, 4, 6}, {52, 4, 5}, {48, 5, 6}, {45, 6, 7}};

Performance play(const std::vector<QNote>& notes, double qpm, double jitter_s, bool with_tempo_map) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> j(-jitter_s, jitter_s);
    Performance p;
    const double beat = 60.0 / qpm;
    for (const auto& [pitch, on, off] : notes) {
        NoteEvent n;
        n.pitch = pitch;
        n.onset_s = 1e-9 + on * beat + j(rng);
        n.offset_s = off * beat + j(rng);
        n.velocity = 70;
        p.notes.push_back(n);
    }
    if (with_tempo_map) p.tempos = {{0.0, qpm}};
    p.sort();
    return p;
}

std::multiset<QNote> in_quarters(const Performance& p) {
    std::multiset<QNote> out;
    for (const auto& n : p.notes)
        out.insert({n.pitch, umt::seconds_to_quarters(p.tempos, n.onset_s), umt::seconds_to_quarters(p.tempos, n.offset_s)});
    return out;
}

std::multiset<QNote> rounded(const std::multiset<QNote>& in) {
    std::multiset<QNote> out;
    for (const auto& [p, a, b] : in) out.insert({p, std::round(a * 1e6) / 1e6, std::round(b * 1e6) / 1e6});
    return out;
}

TEST(Quantize, KnownRhythmComesBackExactlyThroughMusicXml) {
    const Performance perf = play(kRhythm, 90.0, 0.03, true);
    const umt::Score score = umt::quantize_performance(perf);
    ASSERT_EQ(score.parts.size(), 1u);
    EXPECT_EQ(score.parts[0].staff_count(), 2);
    ASSERT_EQ(score.parts[0].measures.size(), 2u);

    const umt::Score back = umt::parse_musicxml(umt::write_musicxml(score), "quantized.musicxml");
    const Performance played = umt::render_score(back);
    EXPECT_EQ(rounded(in_quarters(played)), rounded(std::multiset<QNote>(kRhythm.begin(), kRhythm.end())));
    EXPECT_NEAR(played.tempos.front().qpm, 90.0, 1e-9);

    // The F5 over the barline is written as a tied pair; every measure of every voice is full.
    bool tie_stop_in_second = false;
    for (const auto& e : back.parts[0].measures[1].elements)
        if (const auto* n = std::get_if<umt::Note>(&e))
            if (!n->is_rest && n->pitch.midi() == 77 && n->tie_stop) tie_stop_in_second = true;
    EXPECT_TRUE(tie_stop_in_second);
    for (const auto& m : back.parts[0].measures) {
        std::map<int, umt::Rational> per_voice;
        for (const auto& e : m.elements)
            if (const auto* n = std::get_if<umt::Note>(&e))
                if (!n->chord && !n->grace) per_voice[n->voice] += n->duration;
        for (const auto& [v, len] : per_voice) EXPECT_EQ(len, umt::Rational(4)) << "voice " << v;
    }
}

TEST(Quantize, WritesAMidiFileThatReimports) {
    // The path `umt convert x.mid -o x.musicxml` takes: SMF bytes -> Performance -> Score.
    const Performance perf = umt::parse_midi(umt::write_midi(play(kRhythm, 132.0, 0.01, true)), "rhythm.mid");
    const umt::Score back = umt::parse_musicxml(umt::write_musicxml(umt::quantize_performance(perf)), "q.musicxml");
    EXPECT_EQ(rounded(in_quarters(umt::render_score(back))), rounded(std::multiset<QNote>(kRhythm.begin(), kRhythm.end())));
}

TEST(Quantize, EstimatesTempoWhenThereIsNoMap) {
    std::vector<QNote> eighths;
    for (int i = 0; i < 32; ++i) eighths.push_back({60 + (i % 5), i * 0.5, i * 0.5 + 0.5});
    const Performance perf = play(eighths, 120.0, 0.01, false);
    EXPECT_NEAR(umt::estimate_qpm(perf), 120.0, 2.0);
    const umt::Score s = umt::quantize_performance(perf);
    EXPECT_EQ(s.parts[0].measures.size(), 4u);
}

TEST(Quantize, EstimatesKeyFromPitchClasses) {
    auto scale = [](std::vector<int> pitches) {
        std::vector<QNote> v;
        for (size_t i = 0; i < pitches.size(); ++i)
            v.push_back({pitches[i], static_cast<double>(i), i + (i == 0 || i + 1 == pitches.size() ? 3.0 : 1.0)});
        return play(v, 120, 0, true);
    };
    const umt::Key g = umt::estimate_key(scale({67, 69, 71, 72, 74, 76, 78, 79, 74, 71, 67}));
    EXPECT_EQ(g.fifths, 1);
    EXPECT_EQ(g.mode, "major");
    const umt::Key d = umt::estimate_key(scale({62, 64, 65, 67, 69, 70, 73, 74, 69, 65, 62}));
    EXPECT_EQ(d.fifths, -1);
    EXPECT_EQ(d.mode, "minor");
    const umt::Key bflat = umt::estimate_key(scale({70, 72, 74, 75, 77, 79, 81, 82, 77, 74, 70}));
    EXPECT_EQ(bflat.fifths, -2);
}

TEST(Quantize, SpellsAccidentalsAndRejectsBadOptions) {
    // C major context; C#4 twice in measure 1, C4 after it needs a natural.
    const umt::Score s = umt::quantize_performance(play(
        {{61, 0, 1}, {61, 1, 2}, {60, 2, 3}, {64, 3, 4}, {60, 4, 8}, {64, 4, 8}, {67, 4, 8}}, 120, 0, true));
    std::vector<std::string> acc;
    for (const auto& e : s.parts[0].measures[0].elements)
        if (const auto* n = std::get_if<umt::Note>(&e))
            if (!n->is_rest) acc.push_back(n->accidental);
    ASSERT_EQ(acc.size(), 4u);
    EXPECT_EQ(acc[0], "sharp");
    EXPECT_EQ(acc[1], "");  // still in force within the measure
    EXPECT_EQ(acc[2], "natural");
    EXPECT_EQ(acc[3], "");
    umt::QuantizeOptions bad;
    bad.beats = 3;
    bad.beat_type = 5;
    EXPECT_THROW(umt::quantize_performance(Performance{}, bad), umt::Error);
    bad = {};
    bad.max_voices_per_staff = 0;
    EXPECT_THROW(umt::quantize_performance(Performance{}, bad), umt::Error);
    Performance hours;  // a note five hours in: refused, not hours of frames allocated
    hours.notes.push_back(NoteEvent{18000.0, 18001.0, 60, 80, 0, 0});
    EXPECT_THROW(umt::quantize_performance(hours), umt::Error);
}


// Plays notes given in quarters along a tempo curve qpm(q), with jitter; no tempo map, so the
// quantizer has to find the beat itself. Notes are released at `legato` of their length.
Performance perform(const std::vector<QNote>& notes, const std::function<double(double)>& qpm_at, double jitter_s,
                    double legato, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> j(0.0, jitter_s);
    // Seconds at quarter q: the integral of 60 / qpm.
    auto seconds = [&](double q) {
        double t = 0.0;
        const double step = 1.0 / 64;
        for (double x = 0; x < q - 1e-12; x += step) t += std::min(step, q - x) * 60.0 / qpm_at(x + step / 2);
        return t;
    };
    Performance p;
    double last_end = 0;
    for (const auto& [pitch, on, off] : notes) last_end = std::max(last_end, off);
    for (const auto& [pitch, on, off] : notes) {
        NoteEvent n;
        n.pitch = pitch;
        n.onset_s = std::max(0.0, 0.2 + seconds(on) + j(rng));
        const double len = seconds(off) - seconds(on);
        n.offset_s = n.onset_s + (off == last_end ? len : len * legato);
        n.velocity = std::fmod(on, 4.0) == 0.0 ? 92 : 70;  // downbeats a little louder, as played
        p.notes.push_back(n);
    }
    p.sort();
    return p;
}

// (pitch, onset, end) in quarters of a score's playback, the first onset at 0.
std::multiset<QNote> played_from_zero(const umt::Score& score) {
    const umt::Score back = umt::parse_musicxml(umt::write_musicxml(score), "q.musicxml");
    const Performance played = umt::render_score(back);
    std::multiset<QNote> raw = in_quarters(played);
    double first = 1e9;
    for (const auto& [p, a, b] : raw) first = std::min(first, a);
    std::multiset<QNote> out;
    for (const auto& [p, a, b] : raw) out.insert({p, std::round((a - first) * 1e6) / 1e6, std::round((b - first) * 1e6) / 1e6});
    return out;
}

TEST(Quantize, RubatoMelodyKeepsItsTripletDottedRhythmAndSwungEighths) {
    // Four measures of 4/4, played twice: a dotted eighth + 16th, a triplet, a half tied over the
    // barline, a dotted quarter + eighth, and eighths played swung (55:45) that stay straight.
    std::vector<QNote> bar4 = {
        {72, 0, 1}, {74, 1, 1.75}, {76, 1.75, 2}, {77, 2, 2 + 1.0 / 3}, {76, 2 + 1.0 / 3, 2 + 2.0 / 3}, {74, 2 + 2.0 / 3, 3},
        {72, 3, 4},
        {76, 4, 6}, {74, 6, 7}, {72, 7, 9},
        {76, 9, 10.5}, {74, 10.5, 11}, {72, 11, 12},
        {69, 12, 12.5}, {71, 12.5, 13}, {72, 13, 13.5}, {74, 13.5, 14}, {76, 14, 16}};
    std::vector<QNote> written;
    for (int rep = 0; rep < 2; ++rep) {
        for (const auto& [p, a, b] : bar4) written.push_back({p, a + 16 * rep, b + 16 * rep});
        for (int m = 0; m < 4; ++m) {
            written.push_back({48, 16 * rep + 4 * m, 16 * rep + 4 * m + 2});
            written.push_back({43, 16 * rep + 4 * m + 2, 16 * rep + 4 * m + 4});
        }
    }
    std::vector<QNote> played = written;
    for (auto& [p, a, b] : played) {
        const double f = a - std::floor(a);
        if (std::abs(f - 0.5) < 1e-9 && p >= 60 && std::fmod(a, 16.0) >= 12) a += 0.05;  // swing the eighths
    }
    // Rubato: the tempo breathes by +-12 % around 96 quarters a minute over four measures.
    const Performance perf = perform(played, [](double q) { return 96.0 * (1.0 + 0.12 * std::sin(2 * M_PI * q / 16.0)); }, 0.008, 0.9, 3);
    const umt::Score score = umt::quantize_performance(perf);
    EXPECT_EQ(played_from_zero(score), rounded(std::multiset<QNote>(written.begin(), written.end())));
    ASSERT_EQ(score.parts[0].measures.size(), 8u);
    bool triplet = false, dotted_eighth = false, tie_over_barline = false;
    for (const auto& m : score.parts[0].measures)
        for (const auto& e : m.elements)
            if (const auto* n = std::get_if<umt::Note>(&e)) {
                if (n->time_modification && n->time_modification->actual == 3 && n->type == "eighth") triplet = true;
                if (n->type == "eighth" && n->dots == 1) dotted_eighth = true;
            }
    for (const auto& e : score.parts[0].measures[2].elements)
        if (const auto* n = std::get_if<umt::Note>(&e))
            if (!n->is_rest && n->pitch.midi() == 72 && n->tie_stop) tie_over_barline = true;
    EXPECT_TRUE(triplet);
    EXPECT_TRUE(dotted_eighth);
    EXPECT_TRUE(tie_over_barline);
}

TEST(Quantize, HandsSplitByContinuityNotAtMiddleC) {
    // The melody goes down to A3 over a low bass; then the left hand's arpeggio climbs to E4
    // under right-hand chords. Middle C would give B3 and A3 to the left hand and C4, E4 to the right.
    std::vector<QNote> rh = {{64, 0, 1}, {62, 1, 2}, {60, 2, 3}, {59, 3, 4}, {57, 4, 5}, {59, 5, 6}, {60, 6, 7}, {62, 7, 8},
                             {72, 8, 10}, {76, 8, 10}, {79, 8, 10}, {72, 10, 12}, {76, 10, 12}, {79, 10, 12}};
    std::vector<QNote> lh = {{36, 0, 2}, {43, 2, 4}, {41, 4, 6}, {43, 6, 8},
                             {48, 8, 8.5}, {52, 8.5, 9}, {55, 9, 9.5}, {60, 9.5, 10}, {64, 10, 10.5}, {60, 10.5, 11}, {55, 11, 11.5}, {52, 11.5, 12}};
    std::vector<QNote> all = rh;
    all.insert(all.end(), lh.begin(), lh.end());
    const Performance perf = play(all, 100.0, 0.0, true);
    auto staves = [](const umt::Score& s) {
        std::multiset<std::pair<int, int>> out;  // (staff, pitch) of each struck note
        for (const auto& m : s.parts[0].measures)
            for (const auto& e : m.elements)
                if (const auto* n = std::get_if<umt::Note>(&e))
                    if (!n->is_rest && !n->tie_stop) out.insert({n->staff, n->pitch.midi()});
        return out;
    };
    std::multiset<std::pair<int, int>> expected;
    for (const auto& [p, a, b] : rh) expected.insert({1, p});
    for (const auto& [p, a, b] : lh) expected.insert({2, p});
    EXPECT_EQ(staves(umt::quantize_performance(perf)), expected);
    umt::QuantizeOptions middle_c;
    middle_c.split_pitch = 60;
    EXPECT_NE(staves(umt::quantize_performance(perf, middle_c)), expected);  // what a fixed split does
}

TEST(Quantize, SpellsTheKeyItEstimates) {
    auto notes_of = [](const umt::Score& s) {
        std::vector<const umt::Note*> out;
        for (const auto& m : s.parts[0].measures)
            for (const auto& e : m.elements)
                if (const auto* n = std::get_if<umt::Note>(&e))
                    if (!n->is_rest) out.push_back(n);
        return out;
    };
    // D major, up and down: F# and C# from the key signature, no printed accidentals.
    std::vector<QNote> d_major;
    const int up[] = {62, 64, 66, 67, 69, 71, 73, 74};
    for (int i = 0; i < 8; ++i) d_major.push_back({up[i], i * 1.0, i + 1.0});
    for (int i = 0; i < 7; ++i) d_major.push_back({up[6 - i], 8.0 + i, 9.0 + i});
    d_major.push_back({62, 15, 16});
    d_major.push_back({50, 0, 4});
    d_major.push_back({57, 4, 8});
    d_major.push_back({50, 8, 16});
    const umt::Score d = umt::quantize_performance(play(d_major, 120, 0.0, true));
    const auto* attrs = std::get_if<umt::Attributes>(&d.parts[0].measures[0].elements[0]);
    ASSERT_TRUE(attrs && attrs->key);
    EXPECT_EQ(attrs->key->fifths, 2);
    for (const auto* n : notes_of(d)) {
        if (n->pitch.midi() % 12 == 6) EXPECT_EQ(std::make_pair(n->pitch.step, n->pitch.alter), std::make_pair('F', 1));
        if (n->pitch.midi() % 12 == 1) EXPECT_EQ(std::make_pair(n->pitch.step, n->pitch.alter), std::make_pair('C', 1));
        EXPECT_EQ(n->accidental, "");
    }
    // A harmonic minor: the leading tone is G#, with its sharp printed, not Ab.
    std::vector<QNote> a_minor;
    const int am[] = {69, 71, 72, 74, 76, 77, 80, 81, 80, 77, 76, 74, 72, 71, 69, 69};
    for (int i = 0; i < 16; ++i) a_minor.push_back({am[i], i * 1.0, i + 1.0});
    a_minor.push_back({45, 0, 8});
    a_minor.push_back({52, 8, 12});
    a_minor.push_back({45, 12, 16});
    const umt::Score a = umt::quantize_performance(play(a_minor, 120, 0.0, true));
    int g_sharps = 0;
    for (const auto* n : notes_of(a))
        if (n->pitch.midi() % 12 == 8) {
            EXPECT_EQ(std::make_pair(n->pitch.step, n->pitch.alter), std::make_pair('G', 1));
            g_sharps += n->accidental == "sharp";
        }
    EXPECT_EQ(g_sharps, 2);  // once in each of the two measures that hold one
    // Spelling alone: the line of fifths around a centre.
    EXPECT_EQ(umt::spell_pitch(66, 4.0), (umt::Pitch{'F', 1, 4}));
    EXPECT_EQ(umt::spell_pitch(66, -4.0), (umt::Pitch{'G', -1, 4}));
    EXPECT_EQ(umt::spell_pitch(60, 10.0), (umt::Pitch{'B', 1, 3}));
}

TEST(Quantize, NoteOverTheBarlineIsTied) {
    // A dotted half on beat 3 of 4/4: a half tied to a quarter in the next measure.
    const Performance perf = play({{67, 0, 1}, {69, 1, 2}, {71, 2, 5}, {72, 5, 8}, {48, 0, 8}}, 120, 0.0, true);
    umt::QuantizeOptions steady;
    steady.qpm = 120;
    steady.beats = 4;
    steady.beat_type = 4;
    const umt::Score s = umt::quantize_performance(perf, steady);
    ASSERT_EQ(s.parts[0].measures.size(), 2u);
    std::vector<std::tuple<int, umt::Rational, bool, bool>> b4;  // (measure, duration, tie start, tie stop)
    for (int mi = 0; mi < 2; ++mi)
        for (const auto& e : s.parts[0].measures[mi].elements)
            if (const auto* n = std::get_if<umt::Note>(&e))
                if (!n->is_rest && n->pitch.midi() == 71) b4.push_back({mi, n->duration, n->tie_start, n->tie_stop});
    using T = std::tuple<int, umt::Rational, bool, bool>;
    EXPECT_EQ(b4, (std::vector<T>{T{0, umt::Rational(2), true, false}, T{1, umt::Rational(1), false, true}}));
}

TEST(Quantize, ScoreMidiRoundTripsToTheScoresLmx) {
    // A score in the quantizer's own conventions (stems, beams, voices 1 and 5, a pickup, a
    // triplet, a dotted rhythm, a tie over the barline, a key with an accidental): through MIDI
    // (tempo map, time and key signatures) and back, token for token.
    const std::string lmx =
        "measure key:fifths:2 time beats:3 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 "
        "A4 voice:1 quarter stem:up staff:1 backup quarter rest voice:5 quarter staff:2 "
        "measure D5 voice:1 quarter dot stem:down staff:1 E5 eighth F5 quarter tied:start "
        "backup half backup quarter D3 voice:5 half stem:down staff:2 A2 quarter stem:up "
        "measure F5 voice:1 eighth stem:down staff:1 beam:begin tied:stop E5 16th beam:begin D5 16th beam:end beam:end "
        "E5 eighth 3in2 beam:begin tuplet:start F5 eighth 3in2 G5 eighth 3in2 beam:end tuplet:stop "
        "G4 quarter sharp stem:up "
        "backup half backup quarter D3 voice:5 half dot stem:down staff:2";
    const umt::Score score = umt::lmx::delinearize_score(umt::lmx::tokenize(lmx));
    const std::string midi = umt::write_midi(umt::render_score(score));
    const Performance perf = umt::parse_midi(midi, "score.mid");
    ASSERT_TRUE(umt::is_score_midi(perf));
    ASSERT_EQ(perf.meters.size(), 2u);  // the pickup's 1/4, then 3/4
    const umt::Score back = umt::quantize_performance(perf);
    EXPECT_EQ(umt::lmx::join(umt::lmx::linearize(back.parts[0])), umt::lmx::join(umt::lmx::linearize(score.parts[0])));
}

}  // namespace
