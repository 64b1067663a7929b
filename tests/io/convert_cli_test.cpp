// umt convert, run as a real process on real files: the conversion chain, batch, stdin
// and stdout, and bad inputs (non-zero exit, one line naming the file, no output left).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

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

class ConvertCli : public ::testing::Test {
protected:
    fs::path dir;
    void SetUp() override {
        dir = fs::temp_directory_path() / ("umt-convert-test-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    void TearDown() override { fs::remove_all(dir); }

    std::string p(const std::string& name) const { return (dir / name).string(); }

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
