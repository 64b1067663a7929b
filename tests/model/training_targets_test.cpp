// The trainer's auxiliary targets, checked from C++ so that ctest covers the Python side too:
// scripts/train_translator.py LmxEvents turns an LMX system into the CTC targets of the image
// columns (visible note heads and rests in reading order, a barline after each measure).
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "model_fixture.hpp"
#include "umt/io/lmx.hpp"

namespace umt {
namespace {

namespace fs = std::filesystem;

std::string ctc_labels(const std::string& lmx_text) {
    fs::path dir = fs::temp_directory_path() / ("umt-ctc-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
        std::ofstream names(dir / "names.txt");
        for (const auto& t : lmx::vocabulary()) names << t << "\n";
        std::ofstream lmx(dir / "system.lmx");
        lmx << lmx_text << "\n";
    }
    const std::string code =
        "import sys; sys.path.insert(0, sys.argv[1]); from train_translator import LmxEvents; "
        "names = open(sys.argv[2]).read().split(); e = LmxEvents(names); ids = {t: i for i, t in enumerate(names)}; "
        "print(' '.join(e.label(c) for c in e.of([ids[t] for t in open(sys.argv[3]).read().split()])))";
    std::string cmd = testing::python() + " -c \"" + code + "\" " + testing::scripts_dir() + " " +
                      (dir / "names.txt").string() + " " + (dir / "system.lmx").string() + " 2>&1";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while (p && (n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int status = p ? ::pclose(p) : -1;
    fs::remove_all(dir);
    EXPECT_EQ(status, 0) << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

TEST(TrainingTargets, CtcTargetsFollowTheScoreLeftToRight) {
    // 3/4, two staves: a chord, a grace note, a dotted quarter; the lower staff after two backups,
    // ending on an invisible rest (keeps time, no target).
    const std::string m1 =
        "measure key:fifths:0 time beats:3 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 "
        "C5 voice:1 quarter staff:1 chord E5 quarter grace G5 eighth D5 quarter dot B4 eighth "
        "backup half backup quarter C3 voice:2 half staff:2 print-object:no rest quarter";
    // a measure rest on top; below, a triplet, a forward, a quarter
    const std::string m2 =
        "measure rest voice:1 rest:measure staff:1 backup half backup quarter "
        "G2 voice:2 eighth 3in2 staff:2 A2 eighth 3in2 B2 eighth 3in2 forward quarter C3 quarter";
    EXPECT_EQ(ctc_labels(m1), "C3 C5 E5 G5 D5 B4 |");
    EXPECT_EQ(ctc_labels(m1 + " " + m2), "C3 C5 E5 G5 D5 B4 | rest G2 A2 B2 C3 |");
}

}  // namespace
}  // namespace umt
