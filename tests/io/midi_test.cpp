// Standard MIDI file reader/writer: hand-made byte streams, malformed files, and round trips.
#include "umt/io/midi.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "umt/core/error.hpp"

namespace {

using umt::Performance;

std::string be(uint32_t v, int n) {
    std::string s;
    for (int i = n - 1; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
}

std::string bytes(std::initializer_list<int> v) {
    std::string s;
    for (int c : v) s += static_cast<char>(c);
    return s;
}

std::string header(int format, int ntracks, int division) {
    return "MThd" + be(6, 4) + be(format, 2) + be(ntracks, 2) + be(division, 2);
}

std::string track(const std::string& body) { return "MTrk" + be(static_cast<uint32_t>(body.size()), 4) + body; }

std::string error_of(const std::string& data, const std::string& source = "bad.mid") {
    try {
        umt::parse_midi(data, source);
    } catch (const umt::Error& e) {
        return e.what();
    }
    return "";
}

// Format 0 at 480 tpq: tempo 120 then 60 qpm at beat 2, running status, note-on velocity 0 as
// note-off, a sysex and a text meta to skip, sustain pedal and a program change.
std::string format0_file() {
    std::string body;
    body += bytes({0x00, 0xFF, 0x51, 0x03}) + be(500000, 3);             // 120 qpm
    body += bytes({0x00, 0xFF, 0x01, 0x03, 'a', 'b', 'c'});              // text
    body += bytes({0x00, 0xF0, 0x03, 0x7E, 0x7F, 0xF7});                 // sysex
    body += bytes({0x00, 0xC0, 40});                                     // program 40 (violin)
    body += bytes({0x00, 0x90, 60, 100});                                // C4 on at 0
    body += bytes({0x00, 64, 90});                                       // E4 on (running status)
    body += bytes({0x83, 0x60, 60, 0});                                  // +480: C4 off (vel 0)
    body += bytes({0x00, 0xB0, 64, 127});                                // pedal down at beat 1
    body += bytes({0x83, 0x60, 0xFF, 0x51, 0x03}) + be(1000000, 3);     // +480: 60 qpm at beat 2
    body += bytes({0x00, 0x80, 64, 0});                                  // E4 off at beat 2
    body += bytes({0x83, 0x60, 0xB0, 64, 0});                            // +480: pedal up at beat 3
    body += bytes({0x00, 0xFF, 0x2F, 0x00});
    return header(0, 1, 480) + track(body);
}

TEST(Midi, ParsesFormat0WithTempoChangeRunningStatusAndPedal) {
    const Performance p = umt::parse_midi(format0_file(), "f0.mid");
    ASSERT_EQ(p.notes.size(), 2u);
    EXPECT_EQ(p.notes[0].pitch, 60);
    EXPECT_DOUBLE_EQ(p.notes[0].onset_s, 0.0);
    EXPECT_DOUBLE_EQ(p.notes[0].offset_s, 0.5);
    EXPECT_EQ(p.notes[0].velocity, 100);
    EXPECT_EQ(p.notes[0].program, 40);
    EXPECT_EQ(p.notes[1].pitch, 64);
    EXPECT_DOUBLE_EQ(p.notes[1].offset_s, 1.0);
    ASSERT_EQ(p.pedals.size(), 2u);
    EXPECT_TRUE(p.pedals[0].down);
    EXPECT_DOUBLE_EQ(p.pedals[0].time_s, 0.5);
    EXPECT_FALSE(p.pedals[1].down);
    EXPECT_DOUBLE_EQ(p.pedals[1].time_s, 2.0);  // one beat at 60 qpm after the change at 1.0 s
    ASSERT_EQ(p.tempos.size(), 2u);
    EXPECT_DOUBLE_EQ(p.tempos[1].time_s, 1.0);
    EXPECT_DOUBLE_EQ(p.tempos[1].qpm, 60.0);
    EXPECT_DOUBLE_EQ(umt::seconds_to_quarters(p.tempos, 2.0), 3.0);
    EXPECT_DOUBLE_EQ(umt::quarters_to_seconds(p.tempos, 3.0), 2.0);
}

TEST(Midi, Format1TempoTrackAppliesToOtherTracks) {
    std::string t0 = bytes({0x00, 0xFF, 0x51, 0x03}) + be(250000, 3) + bytes({0x00, 0xFF, 0x2F, 0x00});  // 240 qpm
    std::string t1 = bytes({0x00, 0xC1, 0x00, 0x60, 0x91, 72, 80, 0x60, 0x81, 72, 0x40, 0x00, 0xFF, 0x2F, 0x00});
    const Performance p = umt::parse_midi(header(1, 2, 96) + track(t0) + track(t1), "f1.mid");
    ASSERT_EQ(p.notes.size(), 1u);
    EXPECT_DOUBLE_EQ(p.notes[0].onset_s, 0.25);
    EXPECT_DOUBLE_EQ(p.notes[0].offset_s, 0.5);
    EXPECT_EQ(p.notes[0].channel, 1);
}

TEST(Midi, SimultaneousUnisonNotesPairFirstInFirstOut) {
    // Two voices strike C4 together: a quarter and a half. Offs at 1 and 2 beats.
    std::string body = bytes({0x00, 0x90, 60, 80, 0x00, 0x90, 60, 70, 0x83, 0x60, 0x80, 60, 0, 0x83, 0x60, 0x80, 60, 0,
                              0x00, 0xFF, 0x2F, 0x00});
    const Performance p = umt::parse_midi(header(0, 1, 480) + track(body), "u.mid");
    ASSERT_EQ(p.notes.size(), 2u);
    EXPECT_DOUBLE_EQ(p.notes[0].offset_s + p.notes[1].offset_s, 1.5);
    EXPECT_DOUBLE_EQ(std::min(p.notes[0].offset_s, p.notes[1].offset_s), 0.5);
}

TEST(Midi, UnreleasedNoteEndsWithTheFile) {
    std::string body = bytes({0x00, 0x90, 60, 80, 0x83, 0x60, 0x90, 62, 80, 0x83, 0x60, 0x80, 62, 0, 0x00, 0xFF, 0x2F, 0x00});
    const Performance p = umt::parse_midi(header(0, 1, 480) + track(body), "u.mid");
    ASSERT_EQ(p.notes.size(), 2u);
    EXPECT_DOUBLE_EQ(p.notes[0].offset_s, 1.0);
}

TEST(Midi, SmpteDivisionWithTrack) {
    std::string body = bytes({0x00, 0xFF, 0x51, 0x03}) + be(1000000, 3) +
                       bytes({0x87, 0x68, 0x90, 60, 80, 0x87, 0x68, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00});
    const Performance p = umt::parse_midi(header(0, 1, (0xE7 << 8) | 40) + track(body), "smpte.mid");
    ASSERT_EQ(p.notes.size(), 1u);
    EXPECT_NEAR(p.notes[0].onset_s, 1.0, 1e-12);
    EXPECT_NEAR(p.notes[0].offset_s, 2.0, 1e-12);
}

TEST(Midi, MalformedInputGivesOneClearError) {
    EXPECT_NE(error_of("").find("bad.mid: empty file"), std::string::npos);
    EXPECT_NE(error_of("RIFF....").find("no MThd"), std::string::npos);
    EXPECT_NE(error_of(header(2, 1, 480) + track(bytes({0, 0xFF, 0x2F, 0}))).find("format 2"), std::string::npos);
    // A chunk claiming far more bytes than the file holds.
    std::string bogus = header(0, 1, 480) + "MTrk" + be(0x7FFFFFF0, 4) + bytes({0, 0x90, 60, 80});
    const std::string e = error_of(bogus);
    EXPECT_NE(e.find("bad.mid:"), std::string::npos) << e;
    EXPECT_NE(e.find("claims"), std::string::npos) << e;
    // An event cut off by the end of its chunk.
    EXPECT_NE(error_of(header(0, 1, 480) + track(bytes({0x00, 0x90, 60}))).find("unexpected end"), std::string::npos);
    // A meta event longer than its track.
    EXPECT_NE(error_of(header(0, 1, 480) + track(bytes({0x00, 0xFF, 0x01, 0x40, 'x'}))).find("meta event length"),
              std::string::npos);
    // Data byte with no running status, and a missing announced track.
    EXPECT_NE(error_of(header(0, 1, 480) + track(bytes({0x00, 60, 80}))).find("running status"), std::string::npos);
    EXPECT_NE(error_of(header(1, 3, 480) + track(bytes({0x00, 0xFF, 0x2F, 0}))).find("announces 3 tracks"),
              std::string::npos);
    EXPECT_NE(error_of(header(0, 1, 0) + track("")).find("division"), std::string::npos);
    EXPECT_NE(error_of("MThd" + be(6, 4) + bytes({0, 0})).find("bad.mid"), std::string::npos);
    EXPECT_NE(error_of(header(0, 1, 480) + track(bytes({0x00, 0x90, 60, 0xC0}))).find("data byte"), std::string::npos);
}

TEST(Midi, EveryTruncationOfAValidFileFailsCleanly) {
    const std::string good = format0_file();
    for (size_t n = 0; n < good.size(); ++n) {
        const std::string e = error_of(good.substr(0, n), "cut.mid");
        EXPECT_EQ(e.rfind("cut.mid: ", 0), 0u) << "prefix of " << n << " bytes: '" << e << "'";
    }
}

Performance random_performance(std::mt19937& rng, int n_notes) {
    std::uniform_real_distribution<double> t(0.0, 30.0), len(0.01, 3.0), qpm(40.0, 200.0);
    std::uniform_int_distribution<int> pitch(21, 108), vel(1, 127), ch(0, 15);
    Performance p;
    for (int i = 0; i < n_notes; ++i) {
        umt::NoteEvent n;
        n.onset_s = t(rng);
        n.offset_s = n.onset_s + len(rng);
        n.pitch = pitch(rng);
        n.velocity = vel(rng);
        n.channel = ch(rng);
        // One program per channel: more than 15 (channel, program) groups cannot all keep theirs.
        n.program = n.channel == 9 ? 0 : (n.channel * 7) % 128;
        p.notes.push_back(n);
    }
    p.tempos = {{0.0, qpm(rng)}, {7.3, qpm(rng)}, {19.0, qpm(rng)}};
    p.pedals = {{1.0, true, 0}, {2.5, false, 0}};
    p.sort();
    return p;
}

// Multiset comparison: write/read may reorder notes with equal onset and pitch.
void expect_same_notes(Performance a, Performance b, double tol) {
    auto key = [](const umt::NoteEvent& n) { return std::make_tuple(n.pitch, n.is_drum(), n.program, n.onset_s); };
    auto cmp = [&](const umt::NoteEvent& x, const umt::NoteEvent& y) { return key(x) < key(y); };
    std::sort(a.notes.begin(), a.notes.end(), cmp);
    std::sort(b.notes.begin(), b.notes.end(), cmp);
    ASSERT_EQ(a.notes.size(), b.notes.size());
    for (size_t i = 0; i < a.notes.size(); ++i) {
        EXPECT_NEAR(a.notes[i].onset_s, b.notes[i].onset_s, tol);
        EXPECT_NEAR(a.notes[i].offset_s, b.notes[i].offset_s, tol);
        EXPECT_EQ(a.notes[i].pitch, b.notes[i].pitch);
        EXPECT_EQ(a.notes[i].velocity, b.notes[i].velocity);
        EXPECT_EQ(a.notes[i].program, b.notes[i].program);
        EXPECT_EQ(a.notes[i].is_drum(), b.notes[i].is_drum());
    }
}

TEST(Midi, WriteThenReadRoundTripsRandomPerformances) {
    std::mt19937 rng(7);
    for (int trial = 0; trial < 20; ++trial) {
        // Same-key overlaps are ambiguous in MIDI, so one note per key here.
        Performance p = random_performance(rng, 60);
        std::vector<umt::NoteEvent> kept;
        std::set<std::pair<int, int>> seen;
        for (const auto& n : p.notes)
            if (seen.insert({n.channel, n.pitch}).second) kept.push_back(n);
        p.notes = kept;
        const Performance once = umt::parse_midi(umt::write_midi(p, 480), "rt.mid");
        // Half a tick at the slowest tempo (40 qpm, 480 tpq) is 1.5625 ms.
        expect_same_notes(p, once, 0.0015625 + 1e-9);
        ASSERT_EQ(once.tempos.size(), 3u);
        for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(once.tempos[i].qpm, p.tempos[i].qpm, 0.01);
        ASSERT_EQ(once.pedals.size(), 2u);
        EXPECT_NEAR(once.pedals[1].time_s, 2.5, 0.0015625 + 1e-9);
        // Times already on the tick grid come back bit for bit.
        const Performance twice = umt::parse_midi(umt::write_midi(once, 480), "rt2.mid");
        expect_same_notes(once, twice, 0.0);
        EXPECT_EQ(umt::write_midi(once, 480), umt::write_midi(twice, 480));
    }
}

TEST(Midi, ProgramsSharingAChannelGetTheirOwnChannels) {
    Performance p;
    p.notes.push_back({0.0, 1.0, 60, 80, 0, 0});
    p.notes.push_back({0.0, 1.0, 64, 80, 41, 0});
    p.notes.push_back({0.5, 1.0, 36, 100, 0, 9});
    const Performance back = umt::parse_midi(umt::write_midi(p), "ch.mid");
    ASSERT_EQ(back.notes.size(), 3u);
    std::set<int> channels;
    for (const auto& n : back.notes) {
        if (n.pitch == 64) EXPECT_EQ(n.program, 41);
        if (n.pitch == 60) EXPECT_EQ(n.program, 0);
        if (n.pitch == 36) EXPECT_TRUE(n.is_drum());
        channels.insert(n.channel);
    }
    EXPECT_EQ(channels.size(), 3u);
}

TEST(Midi, ZeroLengthNoteSurvivesTheRoundTrip) {
    Performance p;
    p.notes.push_back({1.0, 1.0, 60, 80, 0, 0});
    p.notes.push_back({1.0, 2.0, 62, 80, 0, 0});
    const Performance back = umt::parse_midi(umt::write_midi(p), "z.mid");
    ASSERT_EQ(back.notes.size(), 2u);
    EXPECT_DOUBLE_EQ(back.notes[0].offset_s, 1.0);
    EXPECT_DOUBLE_EQ(back.notes[1].offset_s, 2.0);
}

TEST(Midi, SaveIsAtomicAndReadNamesMissingFiles) {
    const auto dir = std::filesystem::temp_directory_path() / ("umt_midi_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "out.mid").string();
    Performance p;
    p.notes.push_back({0.0, 0.5, 67, 90, 0, 0});
    umt::save_midi(p, path);
    const Performance back = umt::read_midi(path);
    ASSERT_EQ(back.notes.size(), 1u);
    EXPECT_EQ(back.notes[0].pitch, 67);
    size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
    EXPECT_EQ(files, 1u);  // no temp file left behind
    try {
        umt::read_midi((dir / "missing.mid").string());
        FAIL() << "expected an error";
    } catch (const umt::Error& e) {
        EXPECT_NE(std::string(e.what()).find("missing.mid"), std::string::npos);
    }
    std::filesystem::remove_all(dir);
}

TEST(Midi, ReadsMuseScoreExport) {
    // tests/data/midi/musescore_two_staves.mid: exported by `mscore3 -o` from a small piano score.
    const Performance p = umt::read_midi(std::string(UMT_SOURCE_DIR) + "/tests/data/midi/musescore_two_staves.mid");
    ASSERT_FALSE(p.notes.empty());
    for (const auto& n : p.notes) {
        EXPECT_GE(n.offset_s, n.onset_s);
        EXPECT_GE(n.pitch, 21);
        EXPECT_LE(n.pitch, 108);
    }
    EXPECT_FALSE(p.tempos.empty());
    // MuseScore writes the score's 4/4 and C major as meta events; both are read.
    ASSERT_FALSE(p.meters.empty());
    EXPECT_EQ(p.meters.front().beats, 4);
    EXPECT_EQ(p.meters.front().beat_type, 4);
    ASSERT_FALSE(p.keys.empty());
    EXPECT_EQ(p.keys.front().fifths, 0);
    EXPECT_EQ(p.ticks_per_quarter > 0, true);
}

TEST(Midi, TimeAndKeySignaturesRoundTrip) {
    // A pickup of one quarter (1/4), then 6/8, at 90 qpm; C minor then A major.
    Performance p;
    p.tempos = {{0.0, 90.0}};
    p.meters = {{0.0, 1, 4}, {60.0 / 90.0, 6, 8}};
    p.keys = {{0.0, -3, true}, {60.0 / 90.0 * 4, 3, false}};
    umt::NoteEvent n;
    n.onset_s = 0.0;
    n.offset_s = 1.0;
    p.notes.push_back(n);
    const Performance back = umt::parse_midi(umt::write_midi(p, 480), "sig.mid");
    EXPECT_EQ(back.ticks_per_quarter, 480);
    ASSERT_EQ(back.meters.size(), 2u);
    EXPECT_EQ(std::make_pair(back.meters[1].beats, back.meters[1].beat_type), std::make_pair(6, 8));
    EXPECT_NEAR(back.meters[1].time_s, 60.0 / 90.0, 1e-5);  // the tempo is whole microseconds
    ASSERT_EQ(back.keys.size(), 2u);
    EXPECT_EQ(back.keys[0].fifths, -3);
    EXPECT_TRUE(back.keys[0].minor);
    EXPECT_EQ(back.keys[1].fifths, 3);
    EXPECT_FALSE(back.keys[1].minor);
    EXPECT_NEAR(back.keys[1].time_s, 60.0 / 90.0 * 4, 1e-5);
}

}  // namespace
