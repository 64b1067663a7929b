// A fresh folder per test (removed afterwards), the files of a folder tree with their bytes, and
// shell quoting: what the tests that run the real binary on real files share.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "umt/core/files.hpp"

namespace umt::testing {

namespace fs = std::filesystem;

// A test fixture with its own empty folder `dir`, named by `prefix`, the process and the test, so
// that tests running side by side never meet; p(name) is a path inside it.
class TempDirTest : public ::testing::Test {
protected:
    explicit TempDirTest(std::string prefix) : prefix_(std::move(prefix)) {}
    fs::path dir;
    void SetUp() override {
        dir = fs::temp_directory_path() / (prefix_ + "-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    void TearDown() override {
        if (!dir.empty()) fs::remove_all(dir);
    }
    std::string p(const std::string& name) const { return (dir / name).string(); }

private:
    std::string prefix_;
};

// Every regular file below dir, by path relative to it, with its bytes.
inline std::map<std::string, std::string> tree(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it)
        if (it->is_regular_file()) files[it->path().lexically_relative(dir).string()] = read_file(it->path().string(), true);
    return files;
}

// s in single quotes for a shell command line (s holds no single quote).
inline std::string q(const std::string& s) { return "'" + s + "'"; }

}  // namespace umt::testing
