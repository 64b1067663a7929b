// Test helpers for the six tasks: a small random bundle sized for real pages and 10 s audio windows
// (exported once per version of the Python sources, cached like the model tests' tiny bundle), and
// running the real umt binary (tests/support/run_umt.hpp; --threads 1 keeps the 2-core machine
// usable for parallel test processes).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "../model/model_fixture.hpp"
#include "../support/run_umt.hpp"

namespace umt::testing {

// Wide enough for a Lieder page's systems (up to 24 code rows at the 18 px staff height) and for
// 10 s of 16 kHz audio at hop 320 (500 frames); end biases make random outputs stop at varied lengths.
inline std::string tasks_bundle() {
    return cached_bundle("tasks-", " --width 32 --heads 2 --encoder-layers 1 --decoder-layers 2 --codebook-size 16"
                                   " --max-length 512 --max-height 24 --end-bias 0.5 --rvq-end-bias 1.5");
}

// The same bundle with an I2A that reads images as pixels (a CNN stem) instead of codec tokens.
inline std::string tasks_pixels_bundle() {
    return cached_bundle("tasks-pixels-", " --width 32 --heads 2 --encoder-layers 1 --decoder-layers 2 --codebook-size 16"
                                          " --max-length 512 --max-height 24 --end-bias 0.5 --rvq-end-bias 1.5"
                                          " --image-stem pixels");
}

// A fresh temporary folder per test.
inline std::string temp_dir(const std::string& name) {
    fs::path d = fs::temp_directory_path() / ("umt-tasks-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d.string();
}

}  // namespace umt::testing
