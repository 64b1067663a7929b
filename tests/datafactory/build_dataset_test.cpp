// The data factory end to end: scripts/build_dataset.py on two Lieder scores and one
// generated piece, then every pairing the training relies on is checked with umt's own
// readers (MIDI, audio, LMX vocabulary) and OpenCV.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "umt/io/audio.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/midi.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kSource = UMT_SOURCE_DIR;

bool have(const char* tool) { return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0; }

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<json> read_jsonl(const fs::path& p) {
    std::vector<json> out;
    std::ifstream f(p);
    std::string line;
    while (std::getline(f, line))
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

int run_build(const fs::path& out, const std::string& extra) {
    std::string cmd = "nice -n 10 /usr/bin/python3 " + (kSource / "scripts/build_dataset.py").string() +
                      " --corpus " + (kSource / "tests/data/datafactory/corpus").string() + " --out " + out.string() +
                      " --umt " + UMT_EXE + " --seed 5 --generated-measures 8 16 " + extra + " > " + (out.string() + ".log") + " 2>&1";
    return std::system(cmd.c_str());
}

void check_pairing(const fs::path& a) {
    auto train = read_jsonl(a / "train.jsonl");
    auto dev = read_jsonl(a / "dev.jsonl");
    ASSERT_FALSE(train.empty());
    ASSERT_FALSE(dev.empty());
    std::map<std::string, json> scores;
    std::map<std::string, std::vector<json>> systems;
    for (const auto* recs : {&train, &dev})
        for (const auto& r : *recs) {
            if (r["kind"] == "score") scores[r["id"]] = r;
            if (r["kind"] == "system") systems[r["score_id"]].push_back(r);
        }
    EXPECT_EQ(scores.size(), 3u);  // one train, one dev, one generated
    for (const auto& [id, s] : scores) {
        SCOPED_TRACE(id);
        umt::Performance score_midi = umt::read_midi((a / s["score_midi"].get<std::string>()).string());
        umt::Performance perf = umt::read_midi((a / s["performance_midi"].get<std::string>()).string());
        ASSERT_FALSE(score_midi.notes.empty());
        EXPECT_EQ(score_midi.notes.size(), perf.notes.size()) << "humanization must keep every note";
        umt::Audio audio = umt::read_audio((a / s["audio"].get<std::string>()).string());
        EXPECT_NEAR(audio.duration_s(), s["duration_s"].get<double>(), 0.01);
        EXPECT_GE(audio.duration_s(), perf.notes.back().onset_s);

        const auto& sys = systems[id];
        ASSERT_EQ(static_cast<int>(sys.size()), s["systems"].get<int>());
        int next_measure = 0;
        double prev_end = 0;
        for (const auto& r : sys) {
            SCOPED_TRACE(r["id"].get<std::string>());
            // Image: exists, the size the manifest says.
            cv::Mat img = cv::imread((a / r["image"].get<std::string>()).string(), cv::IMREAD_GRAYSCALE);
            ASSERT_FALSE(img.empty());
            EXPECT_EQ(img.rows, r["image_height"].get<int>());
            EXPECT_EQ(img.cols, r["image_width"].get<int>());
            EXPECT_GT(img.cols, img.rows) << "a system is wider than high";
            // Its scan-like copy: cut from a degraded page, else the degraded crop itself.
            ASSERT_TRUE(r["image_scan"].is_string());
            cv::Mat scan = cv::imread((a / r["image_scan"].get<std::string>()).string(), cv::IMREAD_GRAYSCALE);
            ASSERT_FALSE(scan.empty());
            if (r["image_scan_kind"] == "crop") EXPECT_EQ(scan.size(), img.size());
            else EXPECT_NEAR(scan.cols, img.cols, 0.15 * img.cols);
            // LMX: valid tokens, as many measures as the engraver put on the system,
            // and a system that can be read alone (key and clefs restated).
            auto toks = umt::lmx::tokenize(r["lmx"].get<std::string>());
            for (const auto& t : toks) EXPECT_TRUE(umt::lmx::is_token(t)) << t;
            int measures = static_cast<int>(std::count(toks.begin(), toks.end(), "measure"));
            EXPECT_EQ(measures, r["measures"][1].get<int>());
            EXPECT_EQ(r["measures"][0].get<int>(), next_measure) << "systems must tile the score";
            next_measure += measures;
            ASSERT_GE(toks.size(), 3u);
            EXPECT_EQ(toks[0], "measure");
            EXPECT_EQ(toks[1].rfind("key:fifths:", 0), 0u) << "system does not restate its key";
            EXPECT_GE(std::count_if(toks.begin(), toks.end(), [](const std::string& t) { return t.rfind("clef:", 0) == 0; }), 2)
                << "system does not restate both clefs";
            // Audio span: contiguous, ordered, inside the file, and not silent when notes sound.
            double st = r["start_s"], en = r["end_s"];
            EXPECT_NEAR(st, prev_end, 1e-3);
            EXPECT_GT(en, st);
            EXPECT_LE(en, audio.duration_s() + 1e-3);
            prev_end = en;
            // The performance notes in the span are the score notes of these measures (MIDI
            // ticks quantize score times to ~1 ms;
            // a few notes may cross the boundary through timing jitter).
            double ss = r["score_start_s"], se = r["score_end_s"];
            long in_score = std::count_if(score_midi.notes.begin(), score_midi.notes.end(),
                                          [&](const umt::NoteEvent& n) { return n.onset_s >= ss - 0.002 && n.onset_s < se - 0.002; });
            long in_perf = std::count_if(perf.notes.begin(), perf.notes.end(),
                                         [&](const umt::NoteEvent& n) { return n.onset_s >= st - 0.08 && n.onset_s < en - 0.08; });
            EXPECT_LE(std::labs(in_score - in_perf), 3) << "score " << in_score << " vs performance " << in_perf;
            if (in_perf > 0) {
                size_t i0 = static_cast<size_t>(st * audio.sample_rate_hz), i1 = static_cast<size_t>(en * audio.sample_rate_hz);
                double e = 0;
                for (size_t i = i0; i < i1 && i < audio.samples.size(); ++i) e += audio.samples[i] * audio.samples[i];
                EXPECT_GT(std::sqrt(e / std::max<size_t>(1, i1 - i0)), 1e-3) << "silent audio under sounding notes";
            }
        }
        EXPECT_EQ(next_measure, s["measures"].get<int>());
    }
}

void check_limits_and_splits(const fs::path& a) {
    auto train = read_jsonl(a / "train.jsonl");
    auto dev = read_jsonl(a / "dev.jsonl");
    auto dev_eval = read_jsonl(a / "dev_eval.jsonl");
    std::set<std::string> train_scores, dev_scores;
    int image_audio = 0, windows10 = 0, windows20 = 0;
    for (const auto& r : train) {
        train_scores.insert(r["score_id"]);
        EXPECT_EQ(r["split"], "train");
        if (r["kind"] == "image_audio") {
            ++image_audio;
            EXPECT_LE(r["end_s"].get<double>() - r["start_s"].get<double>(), 20.0 + 1e-6);
            EXPECT_GE(r["images"].size(), 1u);
            EXPECT_LE(r["images"].size(), 2u);
            EXPECT_EQ(r["images"].size(), r["lmx"].size());
        }
        if (r["kind"] == "midi_audio") {
            double w = r["window_s"], len = r["end_s"].get<double>() - r["start_s"].get<double>();
            (w == 10.0 ? windows10 : windows20)++;
            EXPECT_LE(len, w + 1e-6);
            EXPECT_GT(r["midi_tokens"].get<int>(), 0);
        }
    }
    EXPECT_GT(image_audio, 0);
    EXPECT_GT(windows10, 0);
    EXPECT_GT(windows20, 0);
    for (const auto& r : dev) dev_scores.insert(r["score_id"]);
    for (const auto& id : dev_scores) EXPECT_EQ(train_scores.count(id), 0u) << id << " leaked into train";
    EXPECT_TRUE(train_scores.count("lc5092612"));
    EXPECT_TRUE(dev_scores.count("lc5100073"));
    // The evaluation dev set: same dev scores, other SoundFont, reverb always on.
    if (!dev_eval.empty()) {
        for (const auto& r : dev_eval) {
            EXPECT_TRUE(dev_scores.count(r["score_id"]));
            EXPECT_EQ(r["soundfont"].get<std::string>().rfind("MuseScore_General", 0), 0u);
            if (r["kind"] == "score") EXPECT_TRUE(r["audio_params"].contains("reverb_rt60_s"));
        }
    }
    for (const auto& r : train)
        if (r["kind"] == "score") {
            EXPECT_TRUE(r["soundfont"] == "FluidR3_GM.sf2" || r["soundfont"] == "TimGM6mb.sf2") << r["soundfont"];
            // The training audio's piano program comes from the default draw (acoustic, bright, electric grand, honky-tonk).
            ASSERT_TRUE(r.contains("program")) << r["id"];
            EXPECT_TRUE(r["program"].get<int>() >= 0 && r["program"].get<int>() <= 3) << r["program"];
        }
    // Dev audio (both SoundFonts) is always the acoustic grand, so dev numbers stay comparable across builds.
    for (const auto* split : {&dev, &dev_eval})
        for (const auto& r : *split)
            if (r["kind"] == "score") EXPECT_EQ(r.value("program", -1), 0) << r["id"];
    json summary = json::parse(slurp(a / "summary.json"));
    EXPECT_EQ(summary["scores_failed"], 0);
    EXPECT_GT(summary["splits"]["train"]["tokens"]["lmx"].get<int>(), 0);
}

// Resumable (a second run rebuilds nothing) and deterministic (a fresh build of the
// same scores with the same seed, on one process instead of two, writes the same manifest).
void check_resume_and_determinism(const fs::path& root) {
    const fs::path a = root / "a";
    std::string before = slurp(a / "train.jsonl");
    ASSERT_EQ(run_build(a, "--generated 1 --jobs 2"), 0) << slurp(root / "a.log");
    std::string log = slurp(root / "a.log");
    EXPECT_EQ(log.find(": ok"), std::string::npos) << "a resumed build rebuilt a score:\n" << log;
    EXPECT_NE(log.find(": resumed"), std::string::npos);
    EXPECT_EQ(slurp(a / "train.jsonl"), before);

    const fs::path b = root / "b";
    ASSERT_EQ(run_build(b, "--generated 1 --jobs 1 --split train"), 0) << slurp(root / "b.log");
    EXPECT_EQ(slurp(b / "train.jsonl"), before);
    EXPECT_EQ(slurp(b / "scores/train/lc5092612/systems.lmx"), slurp(a / "scores/train/lc5092612/systems.lmx"));
    EXPECT_EQ(slurp(b / "scores/train/lc5092612/audio.wav"), slurp(a / "scores/train/lc5092612/audio.wav"));
}

// The pure-Python pieces (SMF, LMX slicing, humanization, augmentation, shifts).
TEST(BuildDataset, FactoryUnitChecksPass) {
    std::string cmd = "/usr/bin/python3 " + (kSource / "tests/datafactory/factory_units.py").string() + " > " +
                      (fs::temp_directory_path() / "umt-factory-units.log").string() + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << slurp(fs::temp_directory_path() / "umt-factory-units.log");
}

// One build serves every check: ctest runs each TEST in its own process, and a build
// takes most of a minute.
TEST(BuildDataset, SmallBuildPairsAllFourModalitiesResumesAndIsDeterministic) {
    if (!have("mscore3") && !fs::exists(kSource / "tools/node_modules/verovio"))
        GTEST_SKIP() << "no engraver (mscore3 or tools/node_modules/verovio)";
    const fs::path root = fs::temp_directory_path() / ("umt-dataset-test-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    ASSERT_EQ(run_build(root / "a", "--generated 1 --jobs 2"), 0) << slurp(root / "a.log");
    {
        SCOPED_TRACE("pairing");
        check_pairing(root / "a");
    }
    {
        SCOPED_TRACE("limits and splits");
        check_limits_and_splits(root / "a");
    }
    {
        SCOPED_TRACE("resume and determinism");
        check_resume_and_determinism(root);
    }
    if (!HasFailure()) fs::remove_all(root);
}

}  // namespace

namespace {

int run_excerpts(const fs::path& out, const std::string& extra) {
    std::string cmd = "nice -n 10 /usr/bin/python3 " + (kSource / "scripts/build_excerpts.py").string() +
                      " --corpus " + (kSource / "tests/data/datafactory/corpus").string() + " --out " + out.string() +
                      " --umt " + UMT_EXE + " --split train " + extra + " > " + (out.string() + ".log") + " 2>&1";
    return std::system(cmd.c_str());
}

// OMR excerpts (scripts/build_excerpts.py): every pass cuts the piece into excerpts of 1..4
// measures that cover it in order, each with a system image cut by umt systems and the LMX slice
// that restates key and clefs; a second call keeps what is built and adds only the new pass.
TEST(BuildExcerpts, PassesCoverThePieceWithImagesAndResume) {
    if (!fs::exists(kSource / "tools/node_modules/verovio") || !have("node") || !have("rsvg-convert"))
        GTEST_SKIP() << "no verovio (tools/node_modules), node or rsvg-convert";
    const fs::path root = fs::temp_directory_path() / ("umt-excerpts-test-" + std::to_string(::getpid()));
    fs::remove_all(root);
    ASSERT_EQ(run_excerpts(root, "--passes 1"), 0) << slurp(root.string() + ".log");
    const fs::path chunk0 = root / "chunks/train/g0000-p0.jsonl";
    ASSERT_TRUE(fs::exists(chunk0)) << slurp(root.string() + ".log");
    const std::string first = slurp(chunk0);
    ASSERT_EQ(run_excerpts(root, "--passes 2"), 0) << slurp(root.string() + ".log");
    EXPECT_EQ(slurp(chunk0), first) << "a built chunk was rebuilt";
    EXPECT_NE(slurp(root.string() + ".log").find("1 kept from before"), std::string::npos) << slurp(root.string() + ".log");

    auto piece = umt::lmx::tokenize(slurp(kSource / "tests/data/datafactory/corpus/lmx/train/lc5092612.lmx"));
    const auto measures = size_t(std::count(piece.begin(), piece.end(), "measure"));
    auto summary = json::parse(slurp(root / "train-summary.json"));
    const int failed = summary["failures"].empty() ? 0 : 1;
    for (const char* pass : {"p0", "p1"}) {
        SCOPED_TRACE(pass);
        auto recs = read_jsonl(root / ("chunks/train/g0000-" + std::string(pass) + ".jsonl"));
        ASSERT_FALSE(recs.empty());
        size_t covered = 0, next = 0;
        std::set<int> lengths;
        for (const auto& r : recs) {
            int k = r["measures"];
            lengths.insert(k);
            EXPECT_GE(k, 1);
            EXPECT_LE(k, 4);
            // in order and without overlap (an excerpt the cutter lost leaves a gap, never an overlap)
            EXPECT_GE(size_t(r["first_measure"]), next);
            next = size_t(r["first_measure"]) + k;
            covered += k;
            auto toks = umt::lmx::tokenize(r["lmx"].get<std::string>());
            EXPECT_EQ(size_t(std::count(toks.begin(), toks.end(), "measure")), size_t(k));
            ASSERT_FALSE(toks.empty());
            EXPECT_EQ(toks[0], "measure");
            EXPECT_TRUE(std::any_of(toks.begin(), toks.end(), [](const std::string& t) { return t.rfind("clef:", 0) == 0; }))
                << "an excerpt restates its clefs";
            cv::Mat img = cv::imread((root / r["image"].get<std::string>()).string(), cv::IMREAD_GRAYSCALE);
            ASSERT_FALSE(img.empty()) << r["image"];
            EXPECT_EQ(img.rows, int(r["image_height"]));
            // a normalized grand staff (32-pixel staves): taller than two staves, not a page
            EXPECT_GT(img.rows, 2 * 32);
            EXPECT_LT(img.rows, 12 * 32);
            // the engraver's note heads (the dense target): one per visible pitched note, inside the image
            size_t visible = 0;
            for (size_t i = 0; i < toks.size(); ++i) {
                const auto& t = toks[i];
                if (t.size() != 2 || t[0] < 'A' || t[0] > 'G' || !std::isdigit(static_cast<unsigned char>(t[1]))) continue;
                bool hidden = false;
                for (size_t j = i; j-- > 0 && (toks[j] == "grace" || toks[j] == "chord" || toks[j] == "print-object:no");)
                    hidden = hidden || toks[j] == "print-object:no";
                visible += !hidden;
            }
            ASSERT_TRUE(r.contains("heads")) << r["id"];
            EXPECT_EQ(r["heads"].size(), visible) << r["id"];
            for (const auto& h : r["heads"]) {
                EXPECT_GE(double(h[0]), 0.0) << r["id"];
                EXPECT_LE(double(h[0]), double(img.cols)) << r["id"];
                EXPECT_TRUE(int(h[1]) == 1 || int(h[1]) == 2) << r["id"];
            }
        }
        EXPECT_GE(lengths.size(), 2u) << "lengths are drawn";
        if (failed == 0) EXPECT_EQ(covered, measures);
        else EXPECT_GE(covered, measures / 2);
    }
    auto p0 = read_jsonl(root / "chunks/train/g0000-p0.jsonl"), p1 = read_jsonl(root / "chunks/train/g0000-p1.jsonl");
    EXPECT_FALSE(p0.size() == p1.size() && p0.front()["engrave"] == p1.front()["engrave"]) << "passes draw anew";
    if (!HasFailure()) fs::remove_all(root);
}

}  // namespace
