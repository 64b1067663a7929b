// umt convert, run as a real process on real files: the conversion chain, batch, stdin
// and stdout, and bad inputs (non-zero exit, one line naming the file, no output left).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "../support/temp_dir.hpp"
#include "umt/core/files.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/midi.hpp"
#include "umt/io/musicxml.hpp"

namespace fs = std::filesystem;

namespace {

struct CliRun {
    int rc = -1;
    std::string err;
};

class ConvertCli : public umt::testing::TempDirTest {
protected:
    ConvertCli() : TempDirTest("umt-convert-test") {}

    CliRun umt(const std::string& args) const {
        std::string cmd = std::string(UMT_EXE) + " " + args + " 2>" + p("stderr.txt");
        int status = std::system(cmd.c_str());
        CliRun r;
        r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        r.err = umt::read_file(p("stderr.txt"), true);
        return r;
    }

    static std::string lieder(const std::string& split, const std::string& id) {
        return (fs::path(UMT_SOURCE_DIR) / ".." / "shared" / "data" / "lieder" / split / id).string();
    }

    static std::string first_dev_score() {
        fs::path d = fs::path(UMT_SOURCE_DIR) / ".." / "shared" / "data" / "lieder" / "dev";
        std::error_code ec;
        std::string first;
        for (auto it = fs::directory_iterator(d, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
            if (first.empty() || it->path().string() < first) first = it->path().string();
        return first;
    }

    void write(const std::string& name, const std::string& bytes) const {
        std::ofstream(p(name), std::ios::binary) << bytes;
    }

    // A bad input: exit 1, exactly one stderr line, naming the file, and no output.
    void expect_clean_failure(const std::string& input, const std::string& output, const std::string& why) {
        auto listing = [&] {
            std::vector<std::string> names;
            for (auto& e : fs::directory_iterator(dir))
                if (e.path().filename() != "stderr.txt") names.push_back(e.path().filename().string());
            std::sort(names.begin(), names.end());
            return names;
        };
        auto before = listing();
        CliRun r = umt("convert " + p(input) + " -o " + p(output));
        EXPECT_EQ(r.rc, 1) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_NE(r.err.find(p(input)), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(p(output))) << output;
        EXPECT_EQ(listing(), before);  // no output, no temporary file
    }
};

}  // namespace

TEST_F(ConvertCli, MxlToLmxToMusicXmlToLmxIsStable) {
    std::string score = first_dev_score();
    if (score.empty()) GTEST_SKIP() << "../shared/data/lieder not present";
    ASSERT_EQ(umt("convert " + score + " -o " + p("x.lmx")).rc, 0);
    ASSERT_EQ(umt("convert " + p("x.lmx") + " -o " + p("y.musicxml")).rc, 0);
    ASSERT_EQ(umt("convert " + p("y.musicxml") + " -o " + p("y.lmx")).rc, 0);
    std::string x = umt::read_file(p("x.lmx"));
    EXPECT_EQ(x, umt::read_file(p("y.lmx")));
    std::string id = fs::path(score).stem().string();
    std::string ref = umt::read_file((fs::path(UMT_SOURCE_DIR) / ".." / "shared" / "data" / "lieder" / "lmx" / "dev" / (id + ".lmx")).string());
    EXPECT_EQ(umt::lmx::tokenize(x), umt::lmx::tokenize(ref));
    // .mxl out and back, and --part picks another part.
    ASSERT_EQ(umt("convert " + p("y.musicxml") + " -o " + p("z.mxl")).rc, 0);
    EXPECT_EQ(umt::lmx::linearize(umt::read_score(p("z.mxl")).default_part()), umt::lmx::tokenize(x));
    ASSERT_EQ(umt("convert " + score + " --part 1 -o " + p("voice.lmx")).rc, 0);
    EXPECT_NE(umt::read_file(p("voice.lmx")), x);
    CliRun bad_part = umt("convert " + score + " --part 9 -o " + p("nine.lmx"));
    EXPECT_EQ(bad_part.rc, 1);
    EXPECT_NE(bad_part.err.find("--part 9 but the score has"), std::string::npos) << bad_part.err;
}

TEST_F(ConvertCli, StdinAndStdout) {
    write("a.lmx", "measure key:fifths:0 time beats:2 beat-type:4 clef:G2 C4 voice:1 half\n");
    int rc = std::system((std::string("cat ") + p("a.lmx") + " | " + UMT_EXE + " convert - -o - > " + p("a.musicxml")).c_str());
    ASSERT_EQ(rc, 0);
    umt::Score s = umt::read_score(p("a.musicxml"));
    EXPECT_EQ(umt::lmx::join(umt::lmx::linearize(s.parts.at(0))) + "\n", umt::read_file(p("a.lmx")));
    rc = std::system((std::string("cat ") + p("a.musicxml") + " | " + UMT_EXE + " convert - -o - > " + p("b.lmx")).c_str());
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(umt::read_file(p("b.lmx")), umt::read_file(p("a.lmx")));
}

TEST_F(ConvertCli, SystemsWriteOneLinePerSystem) {
    write("s.lmx",
          "measure key:fifths:1 time beats:2 beat-type:4 clef:G2 C5 voice:1 half measure D5 voice:1 half\n");
    // Put a system break before measure 2 through MusicXML, then linearize per system.
    ASSERT_EQ(umt("convert " + p("s.lmx") + " -o " + p("s.musicxml")).rc, 0);
    umt::Score s = umt::read_score(p("s.musicxml"));
    s.parts[0].measures[1].new_system = true;
    umt::save_score(s, p("s.musicxml"));
    ASSERT_EQ(umt("convert " + p("s.musicxml") + " --systems -o " + p("sys.lmx")).rc, 0);
    EXPECT_EQ(umt::read_file(p("sys.lmx")),
              "measure key:fifths:1 time beats:2 beat-type:4 clef:G2 C5 voice:1 half\n"
              "measure key:fifths:1 clef:G2 D5 voice:1 half\n");
}

TEST_F(ConvertCli, BatchFolderToFolderGoesOnPastFailures) {
    fs::create_directories(p("in"));
    write("in/one.lmx", "measure clef:G2 C4 voice:1 whole\n");
    write("in/two.lmx", "measure clef:F4 C3 voice:1 whole\n");
    write("in/bad.lmx", "measure clef:G2 C4 voice:1 wholenote\n");
    CliRun r = umt("convert " + p("in") + " -o " + p("out") + " --to musicxml");
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(fs::exists(p("out/one.musicxml")));
    EXPECT_TRUE(fs::exists(p("out/two.musicxml")));
    EXPECT_FALSE(fs::exists(p("out/bad.musicxml")));
    EXPECT_NE(r.err.find("1 of 3 inputs failed"), std::string::npos) << r.err;
    CliRun lenient = umt("convert " + p("in/bad.lmx") + " --lenient -o " + p("bad.musicxml"));
    EXPECT_EQ(lenient.rc, 0) << lenient.err;
    EXPECT_NE(lenient.err.find("'wholenote' is not an LMX token"), std::string::npos) << lenient.err;
    CliRun no_to = umt("convert " + p("in") + " -o " + p("out2"));
    EXPECT_EQ(no_to.rc, 2) << no_to.err;
}

TEST_F(ConvertCli, ScoreToMidi) {
    write("m.lmx", "measure time beats:4 beat-type:4 clef:G2 C4 voice:1 quarter D4 quarter E4 quarter F4 quarter sharp\n");
    CliRun r = umt("convert " + p("m.lmx") + " -o " + p("m.mid"));
    ASSERT_EQ(r.rc, 0) << r.err;
    umt::Performance perf = umt::read_midi(p("m.mid"));
    ASSERT_EQ(perf.notes.size(), 4u);
    EXPECT_EQ(perf.notes[0].pitch, 60);
    EXPECT_EQ(perf.notes[3].pitch, 66);
    EXPECT_NEAR(perf.notes[1].onset_s, 0.5, 1e-3);  // 120 qpm by default
}

// MIDI -> notation goes through the quantizer: a score played back and quantized again keeps its notes.
TEST_F(ConvertCli, MidiToMusicXmlQuantizes) {
    write("q.lmx", "measure time beats:4 beat-type:4 clef:G2 C4 voice:1 quarter D4 quarter E4 half\n");
    ASSERT_EQ(umt("convert " + p("q.lmx") + " -o " + p("q.mid")).rc, 0);
    CliRun r = umt("convert " + p("q.mid") + " -o " + p("q.musicxml"));
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_EQ(umt("convert " + p("q.musicxml") + " -o " + p("q2.mid")).rc, 0);
    umt::Performance a = umt::read_midi(p("q.mid")), b = umt::read_midi(p("q2.mid"));
    ASSERT_EQ(a.notes.size(), b.notes.size());
    for (size_t i = 0; i < a.notes.size(); ++i) {
        EXPECT_EQ(a.notes[i].pitch, b.notes[i].pitch);
        EXPECT_NEAR(a.notes[i].onset_s, b.notes[i].onset_s, 1e-3);
        EXPECT_NEAR(a.notes[i].offset_s, b.notes[i].offset_s, 1e-3);
    }
}

TEST_F(ConvertCli, BadInputsFailCleanly) {
    std::string score = first_dev_score();
    if (!score.empty()) {
        std::string bytes = umt::read_file(score);
        write("cut.mxl", bytes.substr(0, bytes.size() / 2));
        expect_clean_failure("cut.mxl", "cut.lmx", "not a valid .mxl");
    }
    write("text.mxl", "this is not a score");
    expect_clean_failure("text.mxl", "text.lmx", "not valid XML");
    write("prose.musicxml", "<?xml version=\"1.0\"?><score-partwise><part-list>");
    expect_clean_failure("prose.musicxml", "prose.lmx", "not valid XML");
    write("unknown.lmx", "measure clef:G2 C4 voice:1 quarter zzz\n");
    expect_clean_failure("unknown.lmx", "unknown.musicxml", "unknown LMX token 'zzz' (token 6)");
    write("empty.lmx", "");
    expect_clean_failure("empty.lmx", "empty.musicxml", "empty");
    write("empty.musicxml", "");
    expect_clean_failure("empty.musicxml", "from-empty.lmx", "empty");
    expect_clean_failure("missing.mxl", "missing.lmx", "no such file");
    write("song.mid", "MThd");
    expect_clean_failure("song.mid", "song.musicxml", "unexpected end of data");
}

namespace {

// A voice part with lyrics and a dynamic over two measures, the second repeated.
const char* kSong = R"(<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>Voice</part-name></score-part></part-list>
<part id="P1">
<measure number="1"><attributes><divisions>1</divisions><time><beats>2</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef></attributes>
  <direction><direction-type><dynamics><p/></dynamics></direction-type></direction>
  <note><pitch><step>C</step><octave>5</octave></pitch><duration>1</duration><voice>1</voice><type>quarter</type><lyric number="1"><syllabic>begin</syllabic><text>Lie</text></lyric></note>
  <note><pitch><step>D</step><octave>5</octave></pitch><duration>1</duration><voice>1</voice><type>quarter</type><lyric number="1"><syllabic>end</syllabic><text>be</text></lyric></note></measure>
<measure number="2"><barline location="left"><bar-style>heavy-light</bar-style><repeat direction="forward"/></barline>
  <note><pitch><step>E</step><octave>5</octave></pitch><duration>2</duration><voice>1</voice><type>half</type></note>
  <barline location="right"><bar-style>light-heavy</bar-style><repeat direction="backward"/></barline></measure>
</part></score-partwise>)";

// Variable-length quantity of a MIDI delta time.
std::string vlq(uint32_t v) {
    std::string out(1, char(v & 0x7F));
    while (v >>= 7) out.insert(out.begin(), char(0x80 | (v & 0x7F)));
    return out;
}

std::string chunk(const std::string& id, const std::string& body) {
    uint32_t n = static_cast<uint32_t>(body.size());
    return id + std::string{char(n >> 24), char(n >> 16), char(n >> 8), char(n)} + body;
}

std::string bytes(std::initializer_list<int> v) {
    std::string out;
    for (int b : v) out += static_cast<char>(b);
    return out;
}

// A small performance as a sequencer writes it: two tracks, a tempo change, velocities,
// sustain (CC64), sostenuto (CC66) and soft (CC67) pedals, times off any grid.
std::string performance_midi() {
    std::string tempo = vlq(0) + bytes({0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20}) + vlq(937) +
                        bytes({0xFF, 0x51, 0x03, 0x06, 0x1A, 0x80}) + vlq(0) + bytes({0xFF, 0x2F, 0x00});
    std::string t;
    t += vlq(0) + bytes({0xC0, 0x00});
    t += vlq(13) + bytes({0x90, 0x3C, 0x53});    // C4, velocity 83
    t += vlq(7) + bytes({0xB0, 0x40, 0x7F});     // sustain down
    t += vlq(101) + bytes({0xB0, 0x42, 0x7F});   // sostenuto down
    t += vlq(99) + bytes({0xB0, 0x43, 0x64});    // soft pedal
    t += vlq(281) + bytes({0x80, 0x3C, 0x00});
    t += vlq(3) + bytes({0x90, 0x40, 0x21});     // E4, velocity 33
    t += vlq(0) + bytes({0xB0, 0x40, 0x00}) + vlq(0) + bytes({0xB0, 0x42, 0x00}) + vlq(0) + bytes({0xB0, 0x43, 0x00});
    t += vlq(481) + bytes({0x80, 0x40, 0x40}) + vlq(0) + bytes({0xFF, 0x2F, 0x00});
    return chunk("MThd", bytes({0x00, 0x01, 0x00, 0x02, 0x01, 0xE0})) + chunk("MTrk", tempo) + chunk("MTrk", t);
}

}  // namespace

// Nothing is dropped silently: one warning per file with counts, and the same in --json.
TEST_F(ConvertCli, WarnsOncePerFileWhatTheTargetCannotHold) {
    write("song.musicxml", kSong);
    CliRun r = umt("convert " + p("song.musicxml") + " -o " + p("song.lmx") + " --json " + p("report.json"));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(p("song.lmx") + ": 2 lyrics, 1 dynamics, 2 repeats not representable in LMX"), std::string::npos)
        << r.err;
    std::string json = umt::read_file(p("report.json"));
    EXPECT_NE(json.find("\"lyrics\": 2"), std::string::npos) << json;
    EXPECT_NE(json.find("\"repeats\": 2"), std::string::npos) << json;
    EXPECT_NE(json.find("\"not_representable_in\": \"LMX\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"status\": \"ok\""), std::string::npos) << json;
    // MIDI cannot hold the lyrics either; the repeats play, so they are not lost.
    r = umt("convert " + p("song.musicxml") + " -o " + p("song.mid"));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.err.find(p("song.mid") + ": 2 lyrics not representable in MIDI"), std::string::npos) << r.err;
    r = umt("convert " + p("song.musicxml") + " --no-repeats -o " + p("once.mid"));
    EXPECT_NE(r.err.find("2 lyrics, 2 repeats not representable in MIDI"), std::string::npos) << r.err;
    // MusicXML holds all of it: no warning.
    r = umt("convert " + p("song.musicxml") + " -o " + p("song.mxl"));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");
    // A failure is in the report too.
    write("bad.musicxml", "<score-partwise>");
    r = umt("convert " + p("bad.musicxml") + " -o " + p("bad.lmx") + " --json " + p("bad.json"));
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(umt::read_file(p("bad.json")).find("\"status\": \"failed\""), std::string::npos);
}

// Score -> MIDI plays repeats by default (MuseScore does); --no-repeats plays each measure once.
TEST_F(ConvertCli, ScoreToMidiPlaysRepeatsUnlessAsked) {
    write("song.musicxml", kSong);
    ASSERT_EQ(umt("convert " + p("song.musicxml") + " -o " + p("rep.mid")).rc, 0);
    ASSERT_EQ(umt("convert " + p("song.musicxml") + " --expand-repeats -o " + p("exp.mid")).rc, 0);
    ASSERT_EQ(umt("convert " + p("song.musicxml") + " --no-repeats -o " + p("once.mid")).rc, 0);
    EXPECT_EQ(umt::read_midi(p("rep.mid")).notes.size(), 4u);  // C D E E
    EXPECT_EQ(umt::read_file(p("exp.mid")), umt::read_file(p("rep.mid")));
    EXPECT_EQ(umt::read_midi(p("once.mid")).notes.size(), 3u);
    EXPECT_EQ(umt("convert " + p("song.musicxml") + " --no-repeats --expand-repeats -o " + p("x.mid")).rc, 2);
}

// MIDI -> MIDI keeps the performance: the file is copied, every byte; --quantize asks for a score's timing.
TEST_F(ConvertCli, MidiToMidiKeepsThePerformance) {
    const std::string perf = performance_midi();
    write("perf.mid", perf);
    umt::Performance in = umt::read_midi(p("perf.mid"));
    ASSERT_EQ(in.notes.size(), 2u);  // the fixture is a real SMF our reader accepts
    ASSERT_EQ(in.tempos.size(), 2u);
    CliRun r = umt("convert " + p("perf.mid") + " -o " + p("copy.mid"));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(umt::read_file(p("copy.mid")), perf);
    r = umt("convert " + p("perf.mid") + " --quantize -o " + p("q.mid"));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(umt::read_file(p("q.mid")), perf);
    EXPECT_NE(r.err.find("not representable in notation (--quantize)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("2 pedal events"), std::string::npos) << r.err;
    // A damaged file still fails with its name, even though nothing would be decoded.
    write("cut.mid", perf.substr(0, 30));
    r = umt("convert " + p("cut.mid") + " -o " + p("cut2.mid"));
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find(p("cut.mid")), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(p("cut2.mid")));
}
