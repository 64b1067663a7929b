// The SHA-256 cache of model files: a second look at an unchanged file does not read it, and a
// rewrite of the same size with its mtime set back is still seen (the key holds the ctime).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "umt/core/files.hpp"
#include "umt/model/sha256.hpp"

namespace fs = std::filesystem;

TEST(Sha256Cache, RemembersUnchangedFilesAndSeesRewrites) {
    fs::path dir = fs::temp_directory_path() / ("umt-sha-cache-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const char* old_xdg = std::getenv("XDG_CACHE_HOME");
    std::string saved = old_xdg ? old_xdg : "";
    ::setenv("XDG_CACHE_HOME", (dir / "cache").c_str(), 1);
    std::string file = (dir / "weights.bin").string();
    std::ofstream(file, std::ios::binary) << std::string(4096, 'a');
    const std::string first = umt::model::sha256_file(file);
    EXPECT_EQ(first, umt::model::sha256_hex(std::string(4096, 'a')));
    std::string cache = umt::read_file((dir / "cache" / "umt" / "sha256.tsv").string());
    EXPECT_NE(cache.find(first), std::string::npos);
    EXPECT_NE(cache.find(fs::absolute(file).string()), std::string::npos);

    // Unreadable now: a cached answer proves the file was not read again.
    fs::permissions(file, fs::perms::none);
    if (::access(file.c_str(), R_OK) != 0) EXPECT_EQ(umt::model::sha256_file(file), first);
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);

    // Same size, mtime set back: the ctime moved, so it is hashed again.
    auto mtime = fs::last_write_time(file);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ofstream(file, std::ios::binary) << std::string(4096, 'b');
    fs::last_write_time(file, mtime);
    EXPECT_EQ(umt::model::sha256_file(file), umt::model::sha256_hex(std::string(4096, 'b')));

    umt::model::set_hash_cache_enabled(false);
    EXPECT_EQ(umt::model::sha256_file(file), umt::model::sha256_hex(std::string(4096, 'b')));
    umt::model::set_hash_cache_enabled(true);
    if (old_xdg) ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
    else ::unsetenv("XDG_CACHE_HOME");
    fs::remove_all(dir);
}
