// Start-up (issue 21 section 3): the executable needs none of libtorch, OpenCV, poppler,
// FluidSynth or libsndfile; an exact conversion does not open libumt_media.so, a model
// subcommand does.
#include <gtest/gtest.h>

#include "../support/run_umt.hpp"

namespace {

const std::string kExe = UMT_EXE;
const std::string kScore = std::string(UMT_SOURCE_DIR) + "/tests/data/midi/two_staves.musicxml";

TEST(StartUp, TheExecutableLinksNoHeavyLibrary) {
    auto r = umt::testing::run_command("readelf -d " + kExe + " | grep NEEDED");
    ASSERT_EQ(r.rc, 0) << r.output;
    for (const char* lib : {"torch", "c10", "opencv", "poppler", "fluidsynth", "sndfile", "samplerate", "crypto.so.3 "})
        EXPECT_EQ(r.output.find(lib), std::string::npos) << lib << " in\n" << r.output;
}

TEST(StartUp, OnlyMediaSubcommandsOpenTheMediaLibrary) {
    auto convert = umt::testing::run_command("LD_DEBUG=files " + kExe + " -q convert " + kScore + " -o /dev/null --to lmx");
    EXPECT_EQ(convert.rc, 0) << convert.output;
    EXPECT_EQ(convert.output.find("libumt_media"), std::string::npos) << "convert opened the media library";
    EXPECT_EQ(convert.output.find("libtorch"), std::string::npos);
    auto version = umt::testing::run_command("LD_DEBUG=files " + kExe + " --version");
    EXPECT_EQ(version.output.find("libumt_media"), std::string::npos);
    auto systems = umt::testing::run_command("LD_DEBUG=files " + kExe + " systems --help");
    EXPECT_EQ(systems.rc, 0);
    EXPECT_NE(systems.output.find("libumt_media"), std::string::npos);
    // The full help lists the media subcommands too.
    auto help = umt::testing::umt_run("--help");
    for (const char* sub : {"convert", "systems", "omr", "synth", "codec", "info"})
        EXPECT_NE(help.output.find(sub), std::string::npos) << sub;
}

}  // namespace
