// The batch engine on the real binary (issue 21 section 1): the output tree mirrors the input
// tree, --jobs gives the bytes of --jobs 1, finished outputs are skipped on a rerun, shards cover
// every input exactly once, --inputs lists and --glob, the JSONL report, and "no output" counted
// as a failure even with -q.
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
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
const std::string kScore = kSrc + "/tests/data/midi/two_staves.musicxml";
const std::string kMidi = kSrc + "/tests/data/midi/musescore_two_staves.mid";
const std::string kPage = kSrc + "/tests/data/media/lieder-lc4945954-p4.png";

using testing::RunResult;
using testing::tree;

std::vector<nlohmann::json> read_report(const std::string& path) {
    std::vector<nlohmann::json> lines;
    std::istringstream in(read_file(path, true));
    std::string line;
    while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
    return lines;
}

// Names of the files whose bytes differ between two trees (or that one lacks).
std::vector<std::string> differ(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b) {
    std::vector<std::string> out;
    for (const auto& [name, bytes] : a)
        if (!b.count(name) || b.at(name) != bytes) out.push_back(name);
    for (const auto& [name, bytes] : b)
        if (!a.count(name)) out.push_back(name);
    return out;
}

class Batch : public testing::TempDirTest {
protected:
    Batch() : TempDirTest("umt-batch") {}
    RunResult umt(const std::string& args) const { return testing::umt_run(args); }
    // n procedural scores, in a/ and b/ below `folder`, plus one corrupt file.
    void make_collection(const std::string& folder, int n) const {
        auto r = umt("-q generate --count " + std::to_string(n) + " --measures 4 --seed 3 -o " + p(folder + "/a/"));
        ASSERT_EQ(r.rc, 0) << r.output;
        r = umt("-q generate --count " + std::to_string(n) + " --measures 4 --seed 50 -o " + p(folder + "/b/"));
        ASSERT_EQ(r.rc, 0) << r.output;
        std::ofstream(p(folder + "/b/broken.musicxml")) << "<score-partwise><part";
        // Hidden files (a killed run's temporary files among them) are not inputs.
        std::ofstream(p(folder + "/b/.gen-50.lmx.tmp123-4.musicxml")) << "<score-partwise";
    }
};

TEST_F(Batch, OutputTreeMirrorsTheInputTree) {
    fs::create_directories(dir / "coll/a");
    fs::create_directories(dir / "coll/b");
    for (const std::string sub : {"coll/a/song.mxl", "coll/b/song.mxl", "coll/song.mxl"}) {
        auto r = umt("-q convert " + kScore + " -o " + p(sub));
        ASSERT_EQ(r.rc, 0) << r.output;
    }
    fs::copy_file(kMidi, dir / "coll/song.mid");
    auto r = umt("-q convert " + p("coll") + " -o " + p("out") + " --to lmx");
    ASSERT_EQ(r.rc, 0) << r.output;
    std::set<std::string> names;
    for (const auto& [name, bytes] : tree(dir / "out")) names.insert(name);
    EXPECT_EQ(names, (std::set<std::string>{"a/song.lmx", "b/song.lmx", "song.mid.lmx", "song.mxl.lmx"}));
    // A new folder named like a file is refused before any work.
    r = umt("convert " + p("coll") + " -o " + p("out.lmx") + " --to lmx");
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_FALSE(fs::exists(p("out.lmx")));
}

TEST_F(Batch, ParallelJobsWriteTheSameBytesAsOneJob) {
    make_collection("in", 6);
    for (const std::string to : {"lmx", "mid"}) {
        auto one = umt("-q convert " + p("in") + " -o " + p("one-" + to) + " --to " + to + " --jobs 1");
        auto four = umt("-q convert " + p("in") + " -o " + p("four-" + to) + " --to " + to + " --jobs 4");
        EXPECT_EQ(one.rc, 1) << one.output;  // the broken file
        EXPECT_EQ(four.rc, 1) << four.output;
        auto a = tree(dir / ("one-" + to)), b = tree(dir / ("four-" + to));
        EXPECT_EQ(a.size(), 12u);
        EXPECT_EQ(differ(a, b), std::vector<std::string>{}) << to;
    }
    // FluidSynth: one renderer per worker renders what one renderer renders in sequence.
    fs::create_directories(dir / "mid");
    for (int i = 0; i < 3; ++i) fs::copy_file(kMidi, dir / "mid" / ("m" + std::to_string(i) + ".mid"));
    auto one = umt("-q synth --engine fluidsynth " + p("mid") + " -o " + p("wav1") + " --jobs 1");
    auto two = umt("-q synth --engine fluidsynth " + p("mid") + " -o " + p("wav2") + " --jobs 2");
    ASSERT_EQ(one.rc, 0) << one.output;
    ASSERT_EQ(two.rc, 0) << two.output;
    EXPECT_EQ(tree(dir / "wav1").size(), 3u);
    EXPECT_EQ(differ(tree(dir / "wav1"), tree(dir / "wav2")), std::vector<std::string>{});
}

TEST_F(Batch, RerunSkipsFinishedOutputsAndRedoesChangedOnes) {
    make_collection("in", 3);
    auto r = umt("-q convert " + p("in") + " -o " + p("out") + " --to lmx --report " + p("r1.jsonl"));
    EXPECT_EQ(r.rc, 1) << r.output;
    auto first = read_report(p("r1.jsonl"));
    ASSERT_EQ(first.size(), 8u);  // 7 inputs and the summary
    std::string a0 = p("out/a/gen-3.lmx");
    auto t0 = fs::last_write_time(a0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = umt("-q convert " + p("in") + " -o " + p("out") + " --to lmx --report " + p("r2.jsonl"));
    EXPECT_EQ(r.rc, 1) << r.output;  // the broken file fails again
    std::map<std::string, int> status;
    for (const auto& l : read_report(p("r2.jsonl")))
        if (l.contains("status")) ++status[l["status"].get<std::string>()];
    EXPECT_EQ(status["skipped"], 6);
    EXPECT_EQ(status["failed"], 1);
    EXPECT_EQ(fs::last_write_time(a0), t0);
    // A changed input is redone; --overwrite redoes everything.
    fs::last_write_time(p("in/a/gen-3.musicxml"), fs::file_time_type::clock::now() + std::chrono::seconds(5));
    r = umt("-q convert " + p("in") + " -o " + p("out") + " --to lmx --report " + p("r3.jsonl"));
    status.clear();
    for (const auto& l : read_report(p("r3.jsonl")))
        if (l.contains("status")) ++status[l["status"].get<std::string>()];
    EXPECT_EQ(status["done"], 1);
    EXPECT_EQ(status["skipped"], 5);
    r = umt("-q convert " + p("in") + " -o " + p("out") + " --to lmx --overwrite --report " + p("r4.jsonl"));
    status.clear();
    for (const auto& l : read_report(p("r4.jsonl")))
        if (l.contains("status")) ++status[l["status"].get<std::string>()];
    EXPECT_EQ(status["done"], 6);
    EXPECT_EQ(status["skipped"], 0);
}

TEST_F(Batch, ShardsCoverEveryInputExactlyOnce) {
    make_collection("in", 5);
    auto whole = umt("-q convert " + p("in") + " -o " + p("whole") + " --to lmx");
    std::multiset<std::string> seen;
    for (int i = 0; i < 3; ++i) {
        std::string rep = p("shard" + std::to_string(i) + ".jsonl");
        auto r = umt("-q convert " + p("in") + " -o " + p("sharded") + " --to lmx --shard " + std::to_string(i) + "/3 --report " + rep);
        EXPECT_LE(r.rc, 1) << r.output;
        for (const auto& l : read_report(rep))
            if (l.contains("input")) seen.insert(l["input"].get<std::string>());
    }
    EXPECT_EQ(seen.size(), 11u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 11u) << "an input in two shards";
    EXPECT_EQ(differ(tree(dir / "whole"), tree(dir / "sharded")), std::vector<std::string>{});
    for (const std::string bad : {"3/3", "1", "-1/2", "a/b", "0/0"}) {
        auto r = umt("convert " + p("in") + " -o " + p("x") + " --to lmx --shard " + bad);
        EXPECT_EQ(r.rc, 2) << bad << ": " << r.output;
    }
}

TEST_F(Batch, ReportHasOneLinePerInputAndASummary) {
    make_collection("in", 2);
    auto r = umt("-q convert " + p("in") + " -o " + p("out") + " --to lmx --report " + p("r.jsonl"));
    EXPECT_EQ(r.rc, 1);
    auto lines = read_report(p("r.jsonl"));
    ASSERT_EQ(lines.size(), 6u);
    size_t failed = 0;
    for (size_t i = 0; i + 1 < lines.size(); ++i) {
        const auto& l = lines[i];
        for (const char* key : {"input", "output", "status", "error", "seconds", "warnings"}) EXPECT_TRUE(l.contains(key)) << key;
        EXPECT_TRUE(l["seconds"].contains("total"));
        if (l["status"] == "failed") {
            ++failed;
            EXPECT_NE(l["error"].get<std::string>().find("broken.musicxml"), std::string::npos) << l.dump();
            EXPECT_FALSE(fs::exists(l["output"].get<std::string>()));
        } else {
            EXPECT_EQ(l["status"], "done");
            EXPECT_TRUE(l["error"].is_null());
            EXPECT_TRUE(fs::is_regular_file(l["output"].get<std::string>()));
            EXPECT_TRUE(l["warnings"].is_array());
        }
    }
    EXPECT_EQ(failed, 1u);
    const auto& s = lines.back()["summary"];
    EXPECT_EQ(s["done"], 4);
    EXPECT_EQ(s["failed"], 1);
    EXPECT_EQ(s["skipped"], 0);
}

TEST_F(Batch, InputListsAndGlobs) {
    make_collection("in", 2);
    std::ofstream(p("list.txt")) << "# scores\n" << p("in/a/gen-3.musicxml") << "\n\n"
                                 << p("in/b/gen-50.musicxml") << "\tnamed/fifty.lmx\n";
    auto r = umt("-q convert --inputs " + p("list.txt") + " -o " + p("out") + " --to lmx");
    ASSERT_EQ(r.rc, 0) << r.output;
    std::set<std::string> names;
    for (const auto& [name, bytes] : tree(dir / "out")) names.insert(name);
    EXPECT_EQ(names, (std::set<std::string>{"gen-3.lmx", "named/fifty.lmx"}));
    // A listed output of the wrong kind is a usage error naming the line.
    std::ofstream(p("bad.txt")) << p("in/a/gen-3.musicxml") << "\tx.wav\n";
    r = umt("convert --inputs " + p("bad.txt") + " -o " + p("out2") + " --to lmx");
    EXPECT_EQ(r.rc, 2) << r.output;
    EXPECT_NE(r.output.find("line 1"), std::string::npos) << r.output;
    r = umt("-q convert " + p("in") + " --glob 'b/*' -o " + p("globbed") + " --to lmx");
    EXPECT_EQ(r.rc, 1) << r.output;  // b/ holds the broken file
    names.clear();
    for (const auto& [name, bytes] : tree(dir / "globbed")) names.insert(name);
    EXPECT_EQ(names, (std::set<std::string>{"b/gen-50.lmx", "b/gen-51.lmx"}));
}

TEST_F(Batch, NoStavesFoundIsAFailureEvenWhenQuiet) {
    fs::create_directories(dir / "pages");
    write_image(cv::Mat(300, 500, CV_8U, cv::Scalar(255)), p("pages/blank.png"));
    fs::copy_file(kPage, dir / "pages/page.png");
    auto r = umt("-q systems " + p("pages") + " -o " + p("sys") + " --report " + p("r.jsonl"));
    EXPECT_EQ(r.rc, 1) << r.output;
    // Report lines come as inputs finish (the pages run in parallel): found by input.
    auto line_of = [](const std::vector<nlohmann::json>& lines, const std::string& name) {
        for (const auto& l : lines)
            if (l.contains("input") && fs::path(l["input"].get<std::string>()).filename() == name) return l;
        return nlohmann::json();
    };
    auto lines = read_report(p("r.jsonl"));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(line_of(lines, "blank.png")["status"], "failed");
    EXPECT_NE(line_of(lines, "blank.png")["error"].get<std::string>().find("no staves found"), std::string::npos);
    EXPECT_EQ(line_of(lines, "page.png")["status"], "done");
    EXPECT_EQ(lines[2]["summary"]["failed"], 1);
    // systems.json holds the page that had systems; a rerun skips it and keeps it there.
    auto doc = nlohmann::json::parse(read_file(p("sys/systems.json")));
    size_t systems = doc["systems"].size();
    EXPECT_GT(systems, 0u);
    EXPECT_EQ(doc["systems"][0]["file"], "page-s01.png");
    r = umt("-q systems " + p("pages") + " -o " + p("sys") + " --report " + p("r2.jsonl"));
    EXPECT_EQ(line_of(read_report(p("r2.jsonl")), "page.png")["status"], "skipped");
    EXPECT_EQ(nlohmann::json::parse(read_file(p("sys/systems.json")))["systems"].size(), systems);
}

}  // namespace
}  // namespace umt
