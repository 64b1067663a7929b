// `umt eval` end to end: SER on the fixture folders, note F1 on MIDI files written
// by the test, exit codes for usage and input errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "umt/core/performance.hpp"
#include "umt/io/midi.hpp"

namespace fs = std::filesystem;

namespace {

struct CliRun {
    int rc = -1;
    std::string out, err;
};

class EvalCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("umt_eval_cli_" + std::to_string(getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    CliRun run(const std::string& args) {
        auto out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
        std::string cmd = std::string(UMT_EXE) + " " + args + " >" + out.string() + " 2>" + err.string();
        int status = std::system(cmd.c_str());
        CliRun r;
        r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        r.out = slurp(out);
        r.err = slurp(err);
        return r;
    }
    static std::string slurp(const fs::path& p) {
        std::ifstream f(p);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }
    static std::string data(const std::string& rel) { return std::string(UMT_SOURCE_DIR) + "/tests/data/eval/" + rel; }
    fs::path dir_;
};

umt::NoteEvent note(double on, double off, int pitch) {
    umt::NoteEvent n;
    n.onset_s = on;
    n.offset_s = off;
    n.pitch = pitch;
    return n;
}

}  // namespace

TEST_F(EvalCli, SerFoldersJson) {
    CliRun r = run("eval ser " + data("ref") + " " + data("hyp") + " --json");
    ASSERT_EQ(r.rc, 1) << r.err;  // a missing hypothesis is a failure
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["errors"].get<int>(), 6);
    EXPECT_EQ(j["ref_tokens"].get<int>(), 22);
    EXPECT_NEAR(j["ser"].get<double>(), 100.0 * 6 / 22, 1e-9);
    EXPECT_EQ(j["files"].get<int>(), 3);
    EXPECT_EQ(j["missing"], nlohmann::json::array({"b.lmx"}));
    ASSERT_EQ(j["per_file"].size(), 3u);
    EXPECT_EQ(j["per_file"][0]["errors"].get<int>(), 3);
    // The missing hypothesis and the unmatched extra file are reported.
    EXPECT_NE(r.err.find("no hypothesis"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("no reference"), std::string::npos) << r.err;
}

TEST_F(EvalCli, SerFilesTable) {
    CliRun r = run("eval ser " + data("ref/a.lmx") + " " + data("hyp/a.lmx"));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("21.43"), std::string::npos) << r.out;  // 3 / 14
}

TEST_F(EvalCli, NotesJson) {
    umt::Performance ref, hyp;
    ref.notes = {note(0.0, 0.5, 60), note(0.5, 1.0, 62), note(1.0, 1.5, 64), note(1.5, 2.0, 65)};
    hyp.notes = {note(0.0, 0.5, 60), note(0.5, 1.5, 62) /* offset off */, note(1.0, 1.5, 64),
                 note(1.5, 2.0, 66) /* wrong pitch */, note(2.5, 3.0, 67) /* extra */};
    umt::save_midi(ref, (dir_ / "ref.mid").string());
    umt::save_midi(hyp, (dir_ / "hyp.mid").string());
    CliRun r = run("eval notes " + (dir_ / "ref.mid").string() + " " + (dir_ / "hyp.mid").string() + " --json");
    ASSERT_EQ(r.rc, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_NEAR(j["precision"].get<double>(), 3.0 / 5.0, 1e-9);
    EXPECT_NEAR(j["recall"].get<double>(), 3.0 / 4.0, 1e-9);
    EXPECT_NEAR(j["onset_f1"].get<double>(), 2.0 * 0.6 * 0.75 / 1.35, 1e-9);
    EXPECT_NEAR(j["onset_offset_f1"].get<double>(), 2.0 * 0.4 * 0.5 / 0.9, 1e-9);
    EXPECT_EQ(j["ref_notes"].get<int>(), 4);
    EXPECT_EQ(j["hyp_notes"].get<int>(), 5);

    // A wider onset tolerance changes nothing here; a tighter offset minimum with a
    // large ratio lets the long note's offset match.
    r = run("eval notes " + (dir_ / "ref.mid").string() + " " + (dir_ / "hyp.mid").string() +
            " --json --offset-ratio 1.0 --offset-min 0.01");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NEAR(nlohmann::json::parse(r.out)["onset_offset_f1"].get<double>(), 2.0 * 0.6 * 0.75 / 1.35, 1e-9);
}

TEST_F(EvalCli, NotesFoldersMatchByStemWithMissing) {
    fs::create_directories(dir_ / "r");
    fs::create_directories(dir_ / "h");
    umt::Performance p;
    p.notes = {note(0.0, 0.5, 60), note(0.5, 1.0, 62)};
    umt::save_midi(p, (dir_ / "r" / "x.mid").string());
    umt::save_midi(p, (dir_ / "r" / "y.mid").string());
    umt::save_midi(p, (dir_ / "h" / "x.midi").string());
    CliRun r = run("eval notes " + (dir_ / "r").string() + " " + (dir_ / "h").string() + " --json");
    ASSERT_EQ(r.rc, 1) << r.err;  // a missing hypothesis is a failure
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["files"].get<int>(), 2);
    EXPECT_EQ(j["missing"], nlohmann::json::array({"y.mid"}));
    EXPECT_NEAR(j["recall"].get<double>(), 0.5, 1e-9);     // micro: 2 of 4
    EXPECT_NEAR(j["precision"].get<double>(), 1.0, 1e-9);  // 2 of 2
    EXPECT_NEAR(j["macro"]["onset_f1"].get<double>(), 0.5, 1e-9);
}

TEST_F(EvalCli, UsageAndInputErrors) {
    CliRun r = run("eval ser " + data("ref") + " " + data("hyp/a.lmx"));
    EXPECT_EQ(r.rc, 2) << r.err;
    r = run("eval ser " + data("ref/a.lmx") + " " + (dir_ / "nope.lmx").string());
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("nope.lmx"), std::string::npos) << r.err;
    std::ofstream(dir_ / "bad.mid") << "MThd garbage";
    r = run("eval notes " + (dir_ / "bad.mid").string() + " " + (dir_ / "bad.mid").string());
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("bad.mid"), std::string::npos) << r.err;
}

TEST_F(EvalCli, EmdJson) {
    // The hypothesis is the reference a whole tone up with every duration halved:
    // pitch EMD 2 semitones, duration EMD 1 octave.
    umt::Performance ref, hyp;
    ref.notes = {note(0.0, 0.5, 60), note(0.5, 1.5, 64), note(1.5, 3.5, 67)};
    hyp.notes = {note(0.0, 0.25, 62), note(0.5, 1.0, 66), note(1.5, 2.5, 69)};
    umt::save_midi(ref, (dir_ / "ref.mid").string());
    umt::save_midi(hyp, (dir_ / "hyp.mid").string());
    CliRun r = run("eval emd " + (dir_ / "ref.mid").string() + " " + (dir_ / "hyp.mid").string() + " --json");
    ASSERT_EQ(r.rc, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_NEAR(j["pitch_emd"].get<double>(), 2.0, 1e-9);
    EXPECT_NEAR(j["duration_emd"].get<double>(), 1.0, 1e-9);
}

TEST_F(EvalCli, NotesAlignRecoversASlowerPerformance) {
    umt::Performance ref, slow;
    const int pcs[] = {0, 4, 7, 2, 5, 9, 11, 1, 3, 6, 8, 10};
    for (int k = 0; k < 24; ++k) {
        ref.notes.push_back(note(0.5 * k, 0.5 * k + 0.45, 60 + pcs[k % 12]));
        slow.notes.push_back(note(0.75 * k, 0.75 * k + 0.675, 60 + pcs[k % 12]));
    }
    umt::save_midi(ref, (dir_ / "ref.mid").string());
    umt::save_midi(slow, (dir_ / "slow.mid").string());
    std::string args = "eval notes " + (dir_ / "ref.mid").string() + " " + (dir_ / "slow.mid").string() + " --json";
    CliRun plain = run(args), aligned = run(args + " --align");
    ASSERT_EQ(plain.rc, 0) << plain.err;
    ASSERT_EQ(aligned.rc, 0) << aligned.err;
    EXPECT_LT(nlohmann::json::parse(plain.out)["onset_f1"].get<double>(), 0.2);
    EXPECT_GE(nlohmann::json::parse(aligned.out)["onset_f1"].get<double>(), 0.9);
}

TEST_F(EvalCli, NotesSustainExtendsOffsets) {
    // The reference key is released at 0.2 s under a pedal held to 1 s; the
    // hypothesis holds the key to 1 s. Offsets agree only once the pedal is applied.
    umt::Performance ref, hyp;
    ref.notes = {note(0.0, 0.2, 60)};
    ref.pedals = {umt::PedalEvent{0.0, true, 0}, umt::PedalEvent{1.0, false, 0}};
    hyp.notes = {note(0.0, 1.0, 60)};
    umt::save_midi(ref, (dir_ / "ref.mid").string());
    umt::save_midi(hyp, (dir_ / "hyp.mid").string());
    std::string args = "eval notes " + (dir_ / "ref.mid").string() + " " + (dir_ / "hyp.mid").string() + " --json";
    CliRun plain = run(args), sustained = run(args + " --sustain");
    ASSERT_EQ(plain.rc, 0) << plain.err;
    ASSERT_EQ(sustained.rc, 0) << sustained.err;
    EXPECT_DOUBLE_EQ(nlohmann::json::parse(plain.out)["onset_offset_f1"].get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(nlohmann::json::parse(sustained.out)["onset_offset_f1"].get<double>(), 1.0);
    EXPECT_DOUBLE_EQ(nlohmann::json::parse(plain.out)["onset_f1"].get<double>(), 1.0);
}
