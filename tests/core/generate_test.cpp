// The procedural piano generator: determinism, well-formed measures, symbol coverage.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "umt/core/generate.hpp"
#include "umt/io/musicxml.hpp"

namespace {

using umt::Rational;

umt::Score gen(uint64_t seed, int measures = 16) {
    umt::GeneratorOptions o;
    o.seed = seed;
    o.measures = measures;
    return umt::generate_piano_score(o);
}

TEST(Generate, SameSeedSameScoreDifferentSeedDifferentScore) {
    EXPECT_EQ(umt::write_musicxml(gen(7)), umt::write_musicxml(gen(7)));
    EXPECT_NE(umt::write_musicxml(gen(7)), umt::write_musicxml(gen(8)));
}

TEST(Generate, RejectsZeroMeasures) { EXPECT_THROW(gen(1, 0), std::exception); }

// Every voice must fill its measure exactly, or engravers and the LMX grammar disagree
// with the playback about where measures start.
TEST(Generate, EveryVoiceFillsEveryMeasure) {
    for (uint64_t seed = 0; seed < 60; ++seed) {
        umt::Score s = gen(seed, 12);
        ASSERT_EQ(s.parts.size(), 1u);
        const umt::Part& p = s.parts[0];
        ASSERT_EQ(p.measures.size(), 12u);
        EXPECT_EQ(p.staff_count(), 2);
        umt::TimeSignature ts;
        for (const auto& m : p.measures) {
            Rational t, last_onset;
            std::map<int, Rational> end_of_voice;
            for (const auto& el : m.elements) {
                if (auto* a = std::get_if<umt::Attributes>(&el)) {
                    if (a->time) ts = *a->time;
                } else if (auto* n = std::get_if<umt::Note>(&el)) {
                    if (n->grace) { EXPECT_TRUE(n->duration.is_zero()); continue; }
                    if (n->chord) continue;
                    t += n->duration;
                    end_of_voice[n->voice] = t;
                    EXPECT_LE(t, ts.measure_length()) << "seed " << seed << " measure " << m.number;
                } else if (auto* b = std::get_if<umt::Backup>(&el)) {
                    EXPECT_EQ(t, ts.measure_length()) << "seed " << seed << " measure " << m.number;
                    t -= b->duration;
                }
            }
            for (const auto& [voice, end] : end_of_voice)
                EXPECT_EQ(end, ts.measure_length()) << "seed " << seed << " measure " << m.number << " voice " << voice;
            EXPECT_TRUE(end_of_voice.count(1) && end_of_voice.count(5)) << "seed " << seed;
        }
    }
}

TEST(Generate, NotationIsWellFormed) {
    for (uint64_t seed = 0; seed < 60; ++seed) {
        umt::Score s = gen(seed);
        for (const auto& m : s.parts[0].measures) {
            std::map<std::pair<int, int>, int> open_beams;  // (voice, level) -> open
            int open_tuplets = 0;
            for (const auto& el : m.elements) {
                auto* n = std::get_if<umt::Note>(&el);
                if (!n) continue;
                EXPECT_TRUE(n->measure_rest || !n->type.empty()) << "note without a type";
                if (!n->is_rest) {
                    EXPECT_GE(n->pitch.midi(), 21);
                    EXPECT_LE(n->pitch.midi(), 108);
                }
                for (const auto& b : n->beams) {
                    int& open = open_beams[{n->voice, b.number}];
                    if (b.value == "begin") { EXPECT_EQ(open, 0); open = 1; }
                    else if (b.value == "end") { EXPECT_EQ(open, 1); open = 0; }
                    else if (b.value == "continue") EXPECT_EQ(open, 1);
                }
                for (const auto& t : n->tuplets) open_tuplets += t == "start" ? 1 : -1;
                EXPECT_GE(open_tuplets, 0);
            }
            for (const auto& [k, open] : open_beams) EXPECT_EQ(open, 0) << "beam left open, seed " << seed;
            EXPECT_EQ(open_tuplets, 0);
        }
    }
}

// The point of the generator is coverage: over a few dozen pieces every rare symbol
// the issue names must appear.
TEST(Generate, CoversRareSymbols) {
    std::set<std::string> seen;
    std::set<int> keys, meters;
    for (uint64_t seed = 0; seed < 80; ++seed) {
        umt::Score s = gen(seed, 24);
        int measure_index = 0;
        for (const auto& m : s.parts[0].measures) {
            for (const auto& el : m.elements) {
                if (auto* a = std::get_if<umt::Attributes>(&el)) {
                    if (a->key) { keys.insert(a->key->fifths); if (measure_index > 0) seen.insert("key change"); }
                    if (a->time) { meters.insert(a->time->beats * 100 + a->time->beat_type); if (measure_index > 0) seen.insert("time change"); }
                    if (measure_index > 0 && !a->clefs.empty()) seen.insert("clef change");
                } else if (auto* n = std::get_if<umt::Note>(&el)) {
                    if (n->chord) seen.insert("chord");
                    if (n->tie_start && n->tied_start) seen.insert("tie");
                    if (n->time_modification) seen.insert("tuplet");
                    if (!n->accidental.empty()) seen.insert("accidental");
                    if (n->grace) seen.insert("grace");
                    if (n->voice == 2) seen.insert("second voice");
                    if (n->dots) seen.insert("dot");
                    if (n->measure_rest) seen.insert("measure rest");
                    if (!n->slurs.empty()) seen.insert("slur");
                    if (n->staccato) seen.insert("staccato");
                    if (n->fermata) seen.insert("fermata");
                    for (const auto& b : n->beams)
                        if (b.value.find("hook") != std::string::npos) seen.insert("beam hook");
                } else if (auto* d = std::get_if<umt::Direction>(&el)) {
                    if (!d->dynamic_mark.empty()) seen.insert("dynamics");
                }
            }
            ++measure_index;
        }
    }
    for (const char* what : {"key change", "clef change", "chord", "tie", "tuplet", "accidental", "grace",
                             "second voice", "dot", "measure rest", "slur", "staccato", "fermata",
                             "beam hook", "dynamics"})
        EXPECT_TRUE(seen.count(what)) << what << " never generated";
    EXPECT_GE(keys.size(), 9u);
    EXPECT_GE(meters.size(), 7u);
}

// What the factory relies on: the generated score survives MusicXML and reads back
// with the same notes.
TEST(Generate, MusicXmlRoundTripKeepsNotes) {
    umt::Score s = gen(11, 20);
    umt::Score back = umt::parse_musicxml(umt::write_musicxml(s), "generated");
    ASSERT_EQ(back.parts.size(), 1u);
    ASSERT_EQ(back.parts[0].measures.size(), s.parts[0].measures.size());
    for (size_t m = 0; m < s.parts[0].measures.size(); ++m) {
        std::vector<std::pair<int, Rational>> a, b;
        for (const auto& el : s.parts[0].measures[m].elements)
            if (auto* n = std::get_if<umt::Note>(&el)) a.emplace_back(n->is_rest ? -1 : n->pitch.midi(), n->duration);
        for (const auto& el : back.parts[0].measures[m].elements)
            if (auto* n = std::get_if<umt::Note>(&el)) b.emplace_back(n->is_rest ? -1 : n->pitch.midi(), n->duration);
        EXPECT_EQ(a, b) << "measure " << m + 1;
    }
}

}  // namespace
