// MIDI -> Score quantizer: a known rhythm played with jitter comes back exactly through MusicXML.
#include "umt/core/quantize.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <tuple>

#include "umt/core/error.hpp"
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
    bad.grid_per_quarter = 3;
    EXPECT_THROW(umt::quantize_performance(Performance{}, bad), umt::Error);
}

}  // namespace
