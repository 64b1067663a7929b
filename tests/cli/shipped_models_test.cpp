// The shipped default bundle run as a new user runs it: each of the six translations, on files its
// translators never trained on (a page of a Lieder dev-split score, the test MIDI and MusicXML, and
// FluidSynth audio of that MIDI), gives a valid output of the right kind. Quality is measured by
// scripts/eval_paper.py on the dev split (docs/RESULTS.md), not here. Plus `umt tokens`.
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "../support/run_umt.hpp"
#include "umt/core/files.hpp"
#include "umt/io/audio.hpp"
#include "umt/io/image.hpp"
#include "umt/io/midi.hpp"
#include "umt/tokens/midi_tokens.hpp"

namespace umt {
namespace {

const std::string kSrc = UMT_SOURCE_DIR;
const std::string kPage = kSrc + "/tests/data/media/lieder-lc4945954-p4.png";  // OLiMPiC dev split
const std::string kScore = kSrc + "/tests/data/midi/two_staves.musicxml";
const std::string kMidi = kSrc + "/tests/data/midi/musescore_two_staves.mid";

using testing::RunResult;

RunResult umt(const std::string& args) { return testing::umt_run(args); }

double ink_share(const std::string& png) {
    cv::Mat g = read_gray_image(png);
    return g.empty() ? 0.0 : double(cv::countNonZero(g < 128)) / double(g.total());
}

double rms(const Audio& a) {
    double s = 0;
    for (float x : a.samples) s += double(x) * x;
    return a.samples.empty() ? 0.0 : std::sqrt(s / double(a.samples.size()));
}

class ShippedModels : public ::testing::Test {
protected:
    void SetUp() override {
        models_ = kSrc + "/models/default";
        std::ifstream in(models_ + "/manifest.json");
        if (!in) GTEST_SKIP() << "no shipped bundle";
        auto m = nlohmann::json::parse(in);
        if (!m.contains("translators") || m["translators"].size() < 2) GTEST_SKIP() << "the shipped bundle has no translators";
        dir_ = (fs::temp_directory_path() /
                ("umt-shipped-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
                 std::to_string(::getpid())))
                   .string();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override {
        if (!dir_.empty()) fs::remove_all(dir_);
    }
    std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
    RunResult run(const std::string& args) const { return umt("--models " + models_ + " " + args + " --threads 2"); }
    // FluidSynth audio of the test MIDI file: a recording the translators never heard.
    std::string recording() const {
        auto r = umt("synth --engine fluidsynth " + kMidi + " -o " + path("rec.wav"));
        EXPECT_EQ(r.rc, 0) << r.output;
        return path("rec.wav");
    }
    std::string models_, dir_;
};

TEST_F(ShippedModels, OmrOfADevPageGivesMusicXmlThatReimports) {
    auto r = run("omr " + kPage + " -o " + path("page.musicxml"));
    ASSERT_EQ(r.rc, 0) << r.output;
    auto c = umt("convert " + path("page.musicxml") + " -o " + path("page.lmx"));
    ASSERT_EQ(c.rc, 0) << c.output;
    std::stringstream text;
    text << std::ifstream(path("page.lmx")).rdbuf();
    int notes = 0, measures = 0;
    std::string tok;
    while (text >> tok) {
        notes += tok.size() >= 2 && tok[0] >= 'A' && tok[0] <= 'G' && std::isdigit(static_cast<unsigned char>(tok[1]));
        measures += tok == "measure";
    }
    EXPECT_GT(notes, 10);
    EXPECT_GT(measures, 2);
}

TEST_F(ShippedModels, AmtOfARecordingGivesMidiWithNotes) {
    std::string wav = recording();
    auto r = run("amt " + wav + " -o " + path("rec.mid"));
    ASSERT_EQ(r.rc, 0) << r.output;
    Performance p = read_midi(path("rec.mid"));
    EXPECT_GT(p.notes.size(), 5u);
    EXPECT_LT(p.end_s(), read_midi(kMidi).end_s() + 12.0);
}

TEST_F(ShippedModels, EngraveGivesAnImageWithInk) {
    auto r = run("engrave " + kScore + " -o " + path("score.png"));
    ASSERT_EQ(r.rc, 0) << r.output;
    double ink = ink_share(path("score.png"));
    EXPECT_GT(ink, 0.01);
    EXPECT_LT(ink, 0.6);
}

TEST_F(ShippedModels, SynthGivesSoundOfTheMidiLength) {
    auto r = run("synth " + kMidi + " -o " + path("synth.wav"));
    ASSERT_EQ(r.rc, 0) << r.output;
    Audio a = read_audio(path("synth.wav"));
    double want = read_midi(kMidi).with_sustain_applied().end_s() + 1.0;  // a second of tail
    EXPECT_NEAR(a.duration_s(), want, 1.0);
    EXPECT_GT(rms(a), 0.003);
}

TEST_F(ShippedModels, ImageToAudioOfADevSystemGivesSound) {
    auto s = umt("--models " + models_ + " systems " + kPage + " -o " + path("systems"));
    ASSERT_EQ(s.rc, 0) << s.output;
    auto r = run("i2a " + path("systems") + "/lieder-lc4945954-p4-s01.png -o " + path("sys.wav"));
    ASSERT_EQ(r.rc, 0) << r.output;
    Audio a = read_audio(path("sys.wav"));
    EXPECT_GT(a.duration_s(), 1.0);
    EXPECT_GT(rms(a), 0.003);
}

TEST_F(ShippedModels, AudioToImageGivesAnImageWithInk) {
    std::string wav = recording();
    auto r = run("a2i " + wav + " -o " + path("rec.png"));
    ASSERT_EQ(r.rc, 0) << r.output;
    double ink = ink_share(path("rec.png"));
    EXPECT_GT(ink, 0.01);
    EXPECT_LT(ink, 0.6);
}

// `umt tokens` prints exactly midi_tokens::encode of the file (sustain applied), one JSON line a segment.
TEST(TokensCommand, PrintsTheSegmentsOfAMidiFile) {
    auto r = umt("tokens " + kMidi + " --window 4");
    ASSERT_EQ(r.rc, 0) << r.output;
    auto segs = midi_tokens::encode(read_midi(kMidi).with_sustain_applied(), 4.0);
    std::istringstream lines(r.output);
    std::string line;
    size_t i = 0;
    for (; std::getline(lines, line); ++i) {
        ASSERT_LT(i, segs.size());
        auto j = nlohmann::json::parse(line);
        EXPECT_DOUBLE_EQ(j["start_s"].get<double>(), 4.0 * double(i));
        std::string want;
        for (int id : segs[i]) want += (want.empty() ? "" : " ") + midi_tokens::token_name(id);
        EXPECT_EQ(j["tokens"].get<std::string>(), want);
    }
    EXPECT_EQ(i, segs.size());
}

TEST(TokensCommand, AnswersEveryRequestAndReportsBadFiles) {
    std::string req = (fs::temp_directory_path() / ("umt-tokens-req-" + std::to_string(::getpid()) + ".jsonl")).string();
    {
        std::ofstream f(req);
        f << nlohmann::json{{"midi", kMidi}, {"start_s", 2.5}, {"window_s", 5.0}}.dump() << "\n";
        f << nlohmann::json{{"midi", "/no/such.mid"}, {"start_s", 0.0}}.dump() << "\n";
    }
    auto r = umt("tokens --requests " + req);
    fs::remove(req);
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.output.find("/no/such.mid"), std::string::npos);
    auto first = nlohmann::json::parse(r.output.substr(r.output.find('{'), r.output.find('\n', r.output.find('{')) - r.output.find('{')));
    std::string want;
    for (int id : midi_tokens::encode_window(read_midi(kMidi).with_sustain_applied(), 2.5, 5.0))
        want += (want.empty() ? "" : " ") + midi_tokens::token_name(id);
    EXPECT_EQ(first["tokens"].get<std::string>(), want);
}

}  // namespace
}  // namespace umt
