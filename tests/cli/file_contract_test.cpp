// The file contract (issue 21 section 2), each reproducer run on the real binary: stream outputs
// are written as streams, symlinks written through, the input never overwritten, the output
// format follows the name (a contradiction is a usage error before any work), missing
// hypotheses are failures, clear messages, no empty folders, zip bombs refused, global flags
// anywhere on the line.
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "../support/run_umt.hpp"
#include "../support/temp_dir.hpp"
#include "umt/core/files.hpp"
#include "umt/io/image.hpp"

namespace umt {
namespace {

const std::string kSrc = UMT_SOURCE_DIR;
const std::string kExe = UMT_EXE;
const std::string kScore = kSrc + "/tests/data/midi/two_staves.musicxml";
const std::string kMidi = kSrc + "/tests/data/midi/musescore_two_staves.mid";
const std::string kPage = kSrc + "/tests/data/media/lieder-lc4945954-p4.png";

using testing::RunResult;

using testing::q;

class FileContract : public testing::TempDirTest {
protected:
    FileContract() : TempDirTest("umt-contract") {}
    void SetUp() override {
        TempDirTest::SetUp();
        fs::copy_file(kScore, dir / "song.musicxml");
    }
    void TearDown() override {
        std::error_code ec;
        fs::permissions(dir / "song.musicxml", fs::perms::owner_all, fs::perm_options::add, ec);
        TempDirTest::TearDown();
    }
    RunResult umt(const std::string& args) const { return testing::umt_run(args); }
    // A bash line, run in the test folder (stdout and stderr together).
    RunResult sh(const std::string& line) const {
        return testing::run_command("cd " + q(dir.string()) + " && bash -c " + q(line));
    }
    std::string expected_lmx() const {
        auto r = umt("-q convert " + p("song.musicxml") + " -o " + p("ref.lmx"));
        EXPECT_EQ(r.rc, 0) << r.output;
        return read_file(p("ref.lmx"));
    }
};

TEST_F(FileContract, DevStdoutIsWrittenAsAStreamAndStaysALink) {
    std::string want = expected_lmx();
    const bool was_link = fs::is_symlink("/dev/stdout");
    auto r = sh(kExe + " -q convert song.musicxml -o /dev/stdout --to lmx | cat > got.lmx");
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_EQ(fs::is_symlink("/dev/stdout"), was_link) << "/dev/stdout was replaced";
    EXPECT_FALSE(fs::is_regular_file(fs::symlink_status("/dev/stdout"))) << "/dev/stdout was replaced by a file";
    EXPECT_EQ(read_file(p("got.lmx"), true), want);
    // stdout redirected to a file: the file gets the bytes (not a renamed-over inode).
    r = sh(kExe + " -q convert song.musicxml -o /dev/stdout --to lmx > redirected.lmx");
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_EQ(read_file(p("redirected.lmx"), true), want);
    EXPECT_EQ(fs::is_symlink("/dev/stdout"), was_link);
}

TEST_F(FileContract, FifoAndProcessSubstitutionAreStreams) {
    std::string want = expected_lmx();
    ASSERT_EQ(::mkfifo(p("pipe").c_str(), 0644), 0);
    auto r = sh("cat pipe > from_fifo.lmx & " + kExe + " -q convert song.musicxml -o pipe --to lmx; rc=$?; wait; exit $rc");
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_EQ(read_file(p("from_fifo.lmx"), true), want);
    EXPECT_TRUE(fs::is_fifo(p("pipe")));
    r = sh(kExe + " -q convert song.musicxml --to lmx -o >(cat > from_subst.lmx)");
    EXPECT_EQ(r.rc, 0) << r.output;
    for (int i = 0; i < 100 && read_file(p("from_subst.lmx"), true).size() < want.size(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(read_file(p("from_subst.lmx"), true), want);
    // An audio stream without an extension gets WAV.
    r = sh(kExe + " -q synth --engine fluidsynth " + q(kMidi) + " -o >(cat > audio.bin)");
    EXPECT_EQ(r.rc, 0) << r.output;
    for (int i = 0; i < 200 && read_file(p("audio.bin"), true).size() < 44; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(read_file(p("audio.bin"), true).substr(0, 4), "RIFF");
}

TEST_F(FileContract, SymlinkOutputIsWrittenThroughToItsTarget) {
    std::string want = expected_lmx();
    fs::create_directories(dir / "real");
    fs::create_symlink("real/target.lmx", dir / "link.lmx");  // dangling until written
    auto r = umt("-q convert " + p("song.musicxml") + " -o " + p("link.lmx"));
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_TRUE(fs::is_symlink(p("link.lmx")));
    EXPECT_EQ(read_file(p("real/target.lmx")), want);
    // Again, now that the target exists: still a link, target replaced.
    r = umt("-q convert " + p("song.musicxml") + " -o " + p("link.lmx"));
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_TRUE(fs::is_symlink(p("link.lmx")));
    EXPECT_EQ(read_file(p("real/target.lmx")), want);
}

TEST_F(FileContract, OutputThatIsTheInputIsRefused) {
    std::string before = read_file(p("song.musicxml"));
    fs::permissions(p("song.musicxml"), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    auto r = umt("convert " + p("song.musicxml") + " -o " + p("song.musicxml"));
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_NE(r.output.find("the output is the input"), std::string::npos) << r.output;
    fs::create_symlink("song.musicxml", dir / "alias.musicxml");
    r = umt("convert " + p("song.musicxml") + " -o " + p("alias.musicxml"));
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_EQ(read_file(p("song.musicxml")), before);
    EXPECT_TRUE(fs::is_symlink(p("alias.musicxml")));
}

TEST_F(FileContract, OutputFormatFollowsTheNameOrItIsAUsageError) {
    auto r = umt("convert " + p("song.musicxml") + " -o " + p("song.lmx") + " --to mid");
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_NE(r.output.find("--to"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(p("song.lmx")));
    r = umt("convert " + p("song.musicxml") + " -o " + p("x.txt"));
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_FALSE(fs::exists(p("x.txt")));
    r = umt("generate -o " + p("g.lmx"));
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_FALSE(fs::exists(p("g.lmx")));
    auto t0 = std::chrono::steady_clock::now();
    // AIFF is read but not written: refused by name, before FluidSynth renders anything.
    r = umt("synth --engine fluidsynth " + q(kMidi) + " -o " + p("x.aiff"));
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_NE(r.output.find(".aiff"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(p("x.aiff")));
    EXPECT_LT(s, 5.0) << "refused only after rendering";
    // Every file subcommand checks its output name the same way.
    r = umt("systems " + q(kPage) + " -o " + p("sys.png"));  // a folder task given a file name of another kind
    EXPECT_NE(r.rc, 0);
    r = umt("amt " + p("nothere.wav") + " -o " + p("x.wav"));
    EXPECT_EQ(r.rc, 2) << r.output;
}

TEST_F(FileContract, MissingHypothesisIsAFailureAndNeverAPerfectScore) {
    std::ofstream(p("ref.lmx")) << "measure key:fifths:0 time clef:G2 G4 quarter\n";
    auto r = testing::run_command("(" + kExe + " eval ser " + p("ref.lmx") + " " + p("nothere.lmx") + " --json > " + p("ser.json") +
                                  " 2> " + p("err.txt") + ")");
    EXPECT_EQ(r.rc, 1) << r.output;
    auto j = nlohmann::json::parse(read_file(p("ser.json")));
    EXPECT_TRUE(j["ser"].is_null()) << r.output;
    // The table says so too: no 0.00.
    r = testing::run_command("(" + kExe + " eval ser " + p("ref.lmx") + " " + p("nothere.lmx") + " > " + p("ser.txt") + " 2> " +
                             p("err.txt") + ")");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(read_file(p("ser.txt")).find("0.00"), std::string::npos) << read_file(p("ser.txt"));
    fs::create_directories(dir / "ref");
    fs::create_directories(dir / "emptyhyp");
    fs::copy_file(p("ref.lmx"), dir / "ref" / "a.lmx");
    r = umt("eval ser " + p("ref") + " " + p("emptyhyp"));
    EXPECT_EQ(r.rc, 1) << r.output;
}

TEST_F(FileContract, UnknownSubcommandIsNamed) {
    auto r = umt("frobnicate");
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_NE(r.output.find("unknown subcommand 'frobnicate'"), std::string::npos) << r.output;
    r = umt("-q --models " + p("m") + " frobnicate x");
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_NE(r.output.find("'frobnicate'"), std::string::npos) << r.output;
}

TEST_F(FileContract, TrailingSlashNamesANewFolder) {
    auto r = umt("-q convert " + p("song.musicxml") + " -o " + p("newdir2") + "/ --to lmx");
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_TRUE(fs::is_regular_file(p("newdir2/song.lmx")));
    r = umt("convert " + p("song.musicxml") + " -o " + p("newdir3") + "/");
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_EQ(r.output.find("Success"), std::string::npos) << r.output;
    r = umt("-q synth --engine fluidsynth " + q(kMidi) + " -o " + p("newdir4") + "/");
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_TRUE(fs::is_regular_file(p("newdir4/musescore_two_staves.wav")));
}

TEST_F(FileContract, FailedSystemsLeaveNoFolderAndStdinNamesOutputs) {
    write_image(cv::Mat(400, 600, CV_8U, cv::Scalar(255)), p("blank.png"));
    auto r = umt("systems " + p("blank.png") + " -o " + p("out"));
    EXPECT_EQ(r.rc, 1) << r.output;
    EXPECT_NE(r.output.find("no staves found"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(p("out")));
    r = testing::run_command(kExe + " -q systems - -o " + p("sys") + " < " + q(kPage));
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_TRUE(fs::is_regular_file(p("sys/stdin-s01.png")));
    for (const auto& e : fs::directory_iterator(p("sys")))
        EXPECT_NE(e.path().filename().string().rfind("--", 0), 0u) << e.path();
}

TEST_F(FileContract, ZipBombMxlIsRefusedQuicklyWithAClearMessage) {
    // 200 MB of spaces compress to a few hundred kilobytes.
    const std::string path = p("bomb.mxl");
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    ASSERT_NE(z, nullptr);
    std::string big(size_t(200) << 20, ' ');
    const std::string container =
        "<?xml version=\"1.0\"?><container><rootfiles><rootfile full-path=\"score.xml\"/></rootfiles></container>";
    zip_source_t* c = zip_source_buffer(z, container.data(), container.size(), 0);
    ASSERT_GE(zip_file_add(z, "META-INF/container.xml", c, 0), 0);
    zip_source_t* s = zip_source_buffer(z, big.data(), big.size(), 0);
    ASSERT_GE(zip_file_add(z, "score.xml", s, 0), 0);
    ASSERT_EQ(zip_close(z), 0);
    big.clear();
    big.shrink_to_fit();
    ASSERT_LT(fs::file_size(path), size_t(4) << 20);
    auto t0 = std::chrono::steady_clock::now();
    auto r = umt("convert " + path + " -o " + p("bomb.lmx"));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.rc, 1) << r.output;
    EXPECT_NE(r.output.find("zip bomb"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("bomb.mxl"), std::string::npos) << r.output;
    EXPECT_LT(secs, 3.0);
    EXPECT_FALSE(fs::exists(p("bomb.lmx")));
}

TEST_F(FileContract, GlobalFlagsWorkBeforeOrAfterTheSubcommand) {
    for (const std::string& flags : std::vector<std::string>{"-q", "-v", "--threads 2", "--models " + p("nomodels"), "-q --threads 1"}) {
        auto after = umt("convert " + p("song.musicxml") + " -o " + p("a.lmx") + " " + flags);
        EXPECT_EQ(after.rc, 0) << flags << ": " << after.output;
        auto before = umt(flags + " convert " + p("song.musicxml") + " -o " + p("b.lmx"));
        EXPECT_EQ(before.rc, 0) << flags << ": " << before.output;
        EXPECT_EQ(read_file(p("a.lmx")), read_file(p("b.lmx")));
    }
    // -q silences the warning about what LMX cannot hold, wherever it stands.
    auto r = umt("convert " + p("song.musicxml") + " -o " + p("c.lmx") + " -q");
    EXPECT_EQ(r.output, "");
}

}  // namespace
}  // namespace umt
