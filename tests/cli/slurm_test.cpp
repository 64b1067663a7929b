// A real Slurm (issue 21 section 4): a private single-node cluster (munged, slurmctld, slurmd
// started by scripts/slurm/local_cluster.sh), the repository's job-array recipe
// (scripts/slurm/submit.sh: 4 array tasks of umt convert --shard I/4 and a merge job), and the
// outputs compared with one process converting the same folder. Skipped only when Debian's
// slurm-wlm or munge is not installed.
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../support/run_umt.hpp"
#include "../support/temp_dir.hpp"
#include "umt/core/files.hpp"

namespace umt {
namespace {

const std::string kSrc = UMT_SOURCE_DIR;
const std::string kExe = UMT_EXE;

bool installed(const std::string& tool) {
    return testing::run_command("command -v " + tool + " || test -x /usr/sbin/" + tool).rc == 0;
}

using testing::tree;

class Slurm : public testing::TempDirTest {
protected:
    Slurm() : TempDirTest("umt-slurm") {}
    bool started = false;
    void SetUp() override {
        for (const char* tool : {"sbatch", "squeue", "sinfo", "slurmctld", "slurmd", "munged"})
            if (!installed(tool))
                GTEST_SKIP() << tool << " is not installed (Debian: apt-get install slurm-wlm munge; scripts/setup.sh does)";
        TempDirTest::SetUp();
        auto r = testing::run_command(kSrc + "/scripts/slurm/local_cluster.sh start " + (dir / "cluster").string());
        ASSERT_EQ(r.rc, 0) << "the local Slurm did not start:\n" << r.output;
        started = true;
    }
    void TearDown() override {
        if (started) testing::run_command(kSrc + "/scripts/slurm/local_cluster.sh stop " + (dir / "cluster").string());
        TempDirTest::TearDown();
    }
};

TEST_F(Slurm, JobArrayOfFourEqualsOneProcess) {
    // 14 small scores in two folders and one broken file.
    auto r = testing::umt_run("-q generate --count 8 --measures 4 --seed 1 -o " + p("in/a/"));
    ASSERT_EQ(r.rc, 0) << r.output;
    r = testing::umt_run("-q generate --count 6 --measures 4 --seed 40 -o " + p("in/b/"));
    ASSERT_EQ(r.rc, 0) << r.output;
    std::ofstream(p("in/b/broken.musicxml")) << "<score-partwise";
    r = testing::umt_run("-q convert " + p("in") + " -o " + p("one") + " --to lmx");
    EXPECT_EQ(r.rc, 1) << r.output;

    r = testing::run_command("cd " + dir.string() + " && SLURM_CONF=" + p("cluster/slurm.conf") + " UMT=" + kExe + " " + kSrc +
                             "/scripts/slurm/submit.sh --wait --reports " + p("reports") + " 4 convert " + p("in") + " -o " +
                             p("array") + " --to lmx");
    EXPECT_EQ(r.rc, 1) << "the merge names the broken file:\n" << r.output;
    EXPECT_NE(r.output.find("broken.musicxml"), std::string::npos) << r.output;
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(fs::exists(p("reports/report-" + std::to_string(i) + ".jsonl"))) << i;

    auto one = tree(dir / "one"), array = tree(dir / "array");
    EXPECT_EQ(one.size(), 14u);
    ASSERT_EQ(array.size(), one.size());
    for (const auto& [name, bytes] : one) EXPECT_TRUE(array.count(name) && array[name] == bytes) << name;

    // The merged report: every input once, and the summary.
    std::istringstream in(read_file(p("reports/report.jsonl")));
    std::string line;
    std::map<std::string, int> status;
    nlohmann::json summary;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line);
        if (j.contains("summary")) summary = j["summary"];
        else ++status[j["status"].get<std::string>()];
    }
    EXPECT_EQ(status["done"], 14);
    EXPECT_EQ(status["failed"], 1);
    EXPECT_EQ(summary["inputs"], 15);
    EXPECT_EQ(summary["shards"], 4);
    EXPECT_TRUE(summary["problems"].empty()) << summary.dump();

    // Submitted again, every finished output is skipped.
    r = testing::run_command("cd " + dir.string() + " && SLURM_CONF=" + p("cluster/slurm.conf") + " UMT=" + kExe + " " + kSrc +
                             "/scripts/slurm/submit.sh --wait --reports " + p("reports2") + " 4 convert " + p("in") + " -o " +
                             p("array") + " --to lmx");
    EXPECT_EQ(r.rc, 1) << r.output;
    EXPECT_NE(r.output.find("\"skipped\": 14"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace umt
