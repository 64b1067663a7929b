#include "umt/core/files.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <unistd.h>

#include "umt/core/error.hpp"

namespace umt {

std::string read_file(const std::string& path, bool allow_empty) {
    std::string data;
    if (path == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        data = ss.str();
    } else {
        std::error_code ec;
        if (!fs::exists(path, ec)) throw Error(path, "no such file");
        if (fs::is_directory(path, ec)) throw Error(path, "is a folder, expected a file");
        std::ifstream in(path, std::ios::binary);
        if (!in) throw Error(path, "cannot open for reading");
        data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (in.bad()) throw Error(path, "read error");
    }
    if (data.empty() && !allow_empty) throw Error(path == "-" ? "<stdin>" : path, "file is empty");
    return data;
}

static std::string temp_name_for(const std::string& path) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    fs::path p(path);
    std::string name = "." + p.filename().string() + ".tmp" + std::to_string(getpid()) + "-" + std::to_string(rng() % 1000000);
    // Keep the real extension last: some writers pick the format from it.
    name += p.extension().string();
    return (p.parent_path() / name).string();
}

void write_via_temp(const std::string& path, const std::function<void(const std::string&)>& write) {
    if (path == "-") {
        std::string tmp = (fs::temp_directory_path() / ("umt-stdout-" + std::to_string(getpid()))).string();
        tmp += fs::path(path).extension().string();
        try {
            write(tmp);
            std::ifstream in(tmp, std::ios::binary);
            std::cout << in.rdbuf();
            std::cout.flush();
        } catch (...) {
            std::error_code ec;
            fs::remove(tmp, ec);
            throw;
        }
        std::error_code ec;
        fs::remove(tmp, ec);
        return;
    }
    fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty() && !fs::exists(parent, ec)) {
        fs::create_directories(parent, ec);
        if (ec) throw Error(path, "cannot create folder " + parent.string() + ": " + ec.message());
    }
    std::string tmp = temp_name_for(path);
    try {
        write(tmp);
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw Error(path, "cannot write: " + ec.message());
    }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    if (path == "-") {
        std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        std::cout.flush();
        return;
    }
    write_via_temp(path, [&](const std::string& tmp) {
        std::ofstream out(tmp, std::ios::binary);
        if (!out) throw Error(path, "cannot open for writing");
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.close();
        if (!out) throw Error(path, "write failed (disk full?)");
    });
}

std::string extension_of(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext;
}

}  // namespace umt
