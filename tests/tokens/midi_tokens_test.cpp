// MIDI event tokens: vocabulary, segment layout, encode/decode round trips, malformed streams.
#include "umt/tokens/midi_tokens.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "umt/core/error.hpp"
#include "umt/io/midi.hpp"

namespace mt = umt::midi_tokens;
using umt::NoteEvent;
using umt::Performance;

namespace {

std::vector<std::string> names(const mt::Segment& s) {
    std::vector<std::string> out;
    for (int id : s) out.push_back(mt::token_name(id));
    return out;
}

TEST(MidiTokens, VocabularyIsContiguousAndInvertible) {
    EXPECT_EQ(mt::vocab_size(), 1001 + 128 + 128 + 128 + 2);
    std::set<std::string> seen;
    for (int id = 0; id < mt::vocab_size(); ++id) {
        const std::string n = mt::token_name(id);
        EXPECT_TRUE(seen.insert(n).second) << n;
        EXPECT_EQ(mt::token_id(n), id) << n;
    }
    EXPECT_EQ(mt::token_name(mt::token_id("shift:1000")), "shift:1000");
    EXPECT_EQ(mt::token_id("shift:1001"), -1);
    EXPECT_EQ(mt::token_id("pitch:128"), -1);
    EXPECT_EQ(mt::token_id("pitch:060"), -1);
    EXPECT_EQ(mt::token_id("pitch:"), -1);
    EXPECT_EQ(mt::token_id("bogus"), -1);
    EXPECT_THROW(mt::token_name(mt::vocab_size()), std::out_of_range);
    EXPECT_THROW(mt::token_name(-1), std::out_of_range);
}

TEST(MidiTokens, SegmentLayoutMatchesDesign) {
    Performance p;
    p.notes.push_back({0.0, 0.5, 60, 80, 0, 0});
    p.notes.push_back({0.5, 12.0, 64, 100, 0, 0});  // crosses into the second segment
    p.notes.push_back({0.5, 1.0, 67, 100, 0, 0});
    const auto segs = mt::encode(p);
    ASSERT_EQ(segs.size(), 2u);
    const std::vector<std::string> first = {"tie", "program:0", "velocity:80", "pitch:60", "shift:50", "velocity:0",
                                            "pitch:60", "velocity:100", "pitch:64", "pitch:67", "shift:100",
                                            "velocity:0", "pitch:67"};
    EXPECT_EQ(names(segs[0]), first);
    const std::vector<std::string> second = {"program:0", "pitch:64", "tie", "shift:200", "program:0", "velocity:0",
                                             "pitch:64"};
    EXPECT_EQ(names(segs[1]), second);
}

TEST(MidiTokens, OffsetAtSegmentEndStaysInItsSegment) {
    Performance p;
    p.notes.push_back({9.0, 10.0, 60, 80, 0, 0});
    p.notes.push_back({10.0, 10.5, 60, 80, 0, 0});
    const auto segs = mt::encode(p);
    ASSERT_EQ(segs.size(), 2u);
    EXPECT_EQ(names(segs[0]).back(), "pitch:60");
    EXPECT_EQ(mt::token_name(segs[0][segs[0].size() - 3]), "shift:1000");
    EXPECT_EQ(names(segs[1]).front(), "tie");  // nothing tied
    const Performance back = mt::decode(segs);
    ASSERT_EQ(back.notes.size(), 2u);
    EXPECT_NEAR(back.notes[0].offset_s, 10.0, 1e-9);
    EXPECT_NEAR(back.notes[1].onset_s, 10.0, 1e-9);
}

Performance random_performance(std::mt19937& rng, int n) {
    std::uniform_real_distribution<double> t(0.0, 35.0), len(0.02, 6.0);
    std::uniform_int_distribution<int> pitch(21, 108), vel(1, 127), prog(0, 2), drum(0, 9);
    Performance p;
    for (int i = 0; i < n; ++i) {
        NoteEvent e;
        e.onset_s = t(rng);
        e.offset_s = e.onset_s + len(rng);
        e.pitch = pitch(rng);
        e.velocity = vel(rng);
        e.program = prog(rng);
        if (drum(rng) == 0) {
            e.channel = 9;
            e.program = 0;
            e.offset_s = e.onset_s + mt::kDrumHitSeconds;
        }
        p.notes.push_back(e);
    }
    // The token stream cannot express two sounding notes of one key and program: drop overlaps.
    p.sort();
    std::vector<NoteEvent> kept;
    for (const auto& e : p.notes) {
        bool clash = false;
        for (const auto& k : kept)
            if (k.pitch == e.pitch && k.is_drum() == e.is_drum() && (e.is_drum() || k.program == e.program) &&
                e.onset_s < k.offset_s + 0.02)
                clash = true;
        if (!clash) kept.push_back(e);
    }
    p.notes = kept;
    return p;
}

void expect_close(const Performance& a, const Performance& b, double tol) {
    ASSERT_EQ(a.notes.size(), b.notes.size());
    auto key = [](const NoteEvent& n) { return std::make_tuple(n.is_drum(), n.program, n.pitch, n.onset_s); };
    std::vector<NoteEvent> x = a.notes, y = b.notes;
    auto cmp = [&](const NoteEvent& p, const NoteEvent& q) { return key(p) < key(q); };
    std::sort(x.begin(), x.end(), cmp);
    std::sort(y.begin(), y.end(), cmp);
    for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(x[i].pitch, y[i].pitch);
        EXPECT_EQ(x[i].is_drum(), y[i].is_drum());
        if (!x[i].is_drum()) EXPECT_EQ(x[i].program, y[i].program);
        EXPECT_EQ(x[i].velocity, y[i].velocity);
        EXPECT_NEAR(x[i].onset_s, y[i].onset_s, tol);
        EXPECT_NEAR(x[i].offset_s, y[i].offset_s, tol);
    }
}

TEST(MidiTokens, RoundTripRandomPerformances) {
    std::mt19937 rng(11);
    for (int trial = 0; trial < 30; ++trial) {
        const Performance p = random_performance(rng, 120);
        for (double seg : {10.0, 4.0}) {
            const auto segs = mt::encode(p, seg);
            for (const auto& s : segs)
                for (int id : s) ASSERT_TRUE(id >= 0 && id < mt::vocab_size());
            // Quantization to 10 ms ticks: at most 5 ms plus float noise.
            expect_close(p, mt::decode(segs, seg), 0.0051);
        }
    }
}

TEST(MidiTokens, RoundTripRealMidiFile) {
    const Performance p = umt::read_midi(std::string(UMT_SOURCE_DIR) + "/tests/data/midi/musescore_two_staves.mid");
    ASSERT_FALSE(p.notes.empty());
    expect_close(p, mt::decode(mt::encode(p)), 0.0051);
}

TEST(MidiTokens, WindowAtArbitraryStartMatchesRelativeTimes) {
    Performance p;
    p.notes.push_back({2.0, 4.0, 60, 80, 0, 0});
    p.notes.push_back({3.5, 3.75, 62, 70, 5, 0});
    const auto seg = mt::encode_window(p, 3.0, 10.0);
    const std::vector<std::string> expect = {"program:0", "pitch:60", "tie", "shift:50", "program:5", "velocity:70",
                                             "pitch:62", "shift:75", "velocity:0", "pitch:62", "shift:100",
                                             "program:0", "pitch:60"};
    EXPECT_EQ(names(seg), expect);
    EXPECT_EQ(names(mt::encode_window(p, 20.0, 10.0)), std::vector<std::string>{"tie"});
}

TEST(MidiTokens, MalformedStreamsNeverCrash) {
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> any(-5, mt::vocab_size() + 5);
    for (int trial = 0; trial < 500; ++trial) {
        mt::Segment s(rng() % 200);
        for (auto& id : s) id = any(rng);
        const Performance p = mt::decode_segment(s, 1.0);
        for (const auto& n : p.notes) {
            EXPECT_GE(n.onset_s, 1.0);
            EXPECT_GT(n.offset_s, n.onset_s);
            EXPECT_GE(n.pitch, 0);
            EXPECT_LE(n.pitch, 127);
            EXPECT_GE(n.velocity, 1);
        }
    }
}

TEST(MidiTokens, DecoderDropsWhatItCannotInterpret) {
    auto id = [](const char* n) { return mt::token_id(n); };
    // No tie token; a pitch before any velocity; an offset of a note that never began; a
    // backwards shift; an out-of-range id; a note never released.
    const mt::Segment s = {id("pitch:50"), id("velocity:90"), id("pitch:60"), id("shift:100"), 99999,
                           id("velocity:0"),  id("pitch:61"),    id("shift:20"), id("velocity:70"), id("pitch:62"),
                           id("shift:150"), id("velocity:0"), id("pitch:60")};
    const Performance p = mt::decode_segment(s);
    ASSERT_EQ(p.notes.size(), 2u);
    EXPECT_EQ(p.notes[0].pitch, 60);
    EXPECT_DOUBLE_EQ(p.notes[0].onset_s, 0.0);
    EXPECT_NEAR(p.notes[0].offset_s, 1.5, 1e-9);
    EXPECT_EQ(p.notes[1].pitch, 62);
    EXPECT_NEAR(p.notes[1].onset_s, 1.0, 1e-9);   // the backwards shift was ignored
    EXPECT_NEAR(p.notes[1].offset_s, 1.5, 1e-9);  // closed at the last event time
}

TEST(MidiTokens, TieSectionEndsNotesItDoesNotName) {
    auto id = [](const char* n) { return mt::token_id(n); };
    const std::vector<mt::Segment> segs = {
        {id("tie"), id("velocity:80"), id("pitch:60"), id("pitch:64")},
        {id("pitch:64"), id("tie"), id("shift:10"), id("velocity:0"), id("pitch:64")},
    };
    const Performance p = mt::decode(segs);
    ASSERT_EQ(p.notes.size(), 2u);
    EXPECT_NEAR(p.notes[0].offset_s, 10.0, 1e-9);  // C4 not tied: ends at the boundary
    EXPECT_NEAR(p.notes[1].offset_s, 10.1, 1e-9);  // E4 continued
}

TEST(MidiTokens, RejectsSegmentsLongerThanTheShiftRange) {
    EXPECT_THROW(mt::encode(Performance{}, 10.5), umt::Error);
    EXPECT_THROW(mt::encode(Performance{}, 0.0), umt::Error);
    EXPECT_TRUE(mt::encode(Performance{}).empty());
}

}  // namespace
