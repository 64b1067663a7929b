#include "umt/core/files.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <unistd.h>
#include <fcntl.h>
#include <cerrno>
#include <cstring>

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

namespace {

// The file descriptor a path names when it is one of this process's own (/dev/stdout,
// /dev/fd/N, /proc/self/fd/N), else -1.
int own_fd_of(const std::string& path) {
    if (path == "/dev/stdout") return STDOUT_FILENO;
    if (path == "/dev/stderr") return STDERR_FILENO;
    for (const std::string& prefix : std::vector<std::string>{"/dev/fd/", "/proc/self/fd/", "/proc/" + std::to_string(getpid()) + "/fd/"}) {
        if (path.rfind(prefix, 0) != 0) continue;
        std::string n = path.substr(prefix.size());
        if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos) return -1;
        int fd = std::stoi(n);
        return fcntl(fd, F_GETFD) == -1 ? -1 : fd;
    }
    return -1;
}

// The hops of a symlink chain, path first, the final target last (at most 40 hops).
std::vector<fs::path> link_chain(const std::string& path) {
    std::vector<fs::path> hops{fs::path(path)};
    std::error_code ec;
    for (int i = 0; i < 40 && fs::is_symlink(hops.back(), ec); ++i) {
        fs::path t = fs::read_symlink(hops.back(), ec);
        if (ec) break;
        hops.push_back(t.is_absolute() ? t : hops.back().parent_path() / t);
    }
    return hops;
}

void write_all(int fd, const char* data, size_t size, const std::string& path) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error(path, std::string("write failed: ") + std::strerror(errno));
        data += n;
        size -= size_t(n);
    }
}

// Writes bytes to a stream output, in place: our own descriptor, or the FIFO/device opened.
void write_stream(const std::string& path, const char* data, size_t size) {
    if (path == "-") {
        std::cout.write(data, static_cast<std::streamsize>(size));
        std::cout.flush();
        if (!std::cout) throw Error("<stdout>", "write failed");
        return;
    }
    for (const auto& hop : link_chain(path)) {
        int fd = own_fd_of(hop.string());
        if (fd < 0) continue;
        if (fd == STDOUT_FILENO) std::cout.flush();
        write_all(fd, data, size, path);
        return;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path, std::string("cannot open for writing: ") + std::strerror(errno));
    try {
        write_all(fd, data, size, path);
    } catch (...) {
        ::close(fd);
        throw;
    }
    if (::close(fd) != 0) throw Error(path, std::string("write failed: ") + std::strerror(errno));
}

}  // namespace

bool is_stream_output(const std::string& path) {
    if (path == "-") return true;
    for (const auto& hop : link_chain(path))
        if (own_fd_of(hop.lexically_normal().string()) >= 0) return true;
    std::error_code ec;
    auto st = fs::status(path, ec);
    return !ec && fs::exists(st) && !fs::is_regular_file(st) && !fs::is_directory(st);
}

std::string resolve_output_path(const std::string& path) { return link_chain(path).back().string(); }

void write_via_temp(const std::string& path, const std::function<void(const std::string&)>& write,
                    const std::string& stream_ext) {
    std::error_code ec;
    if (is_stream_output(path)) {
        std::string ext = fs::path(path).extension().string();
        if (path == "-" || ext.empty()) ext = stream_ext.empty() ? "" : "." + stream_ext;
        fs::path tmp = fs::path(temp_name_for((fs::temp_directory_path() / "umt-stream").string()));
        tmp.replace_extension(ext);
        try {
            write(tmp.string());
            std::string bytes = read_file(tmp.string(), true);
            fs::remove(tmp, ec);
            write_stream(path, bytes.data(), bytes.size());
        } catch (...) {
            fs::remove(tmp, ec);
            throw;
        }
        return;
    }
    // A symlink is written through: the temporary file sits beside its target, which the
    // rename replaces, and the link stays.
    const std::string target = resolve_output_path(path);
    if (fs::path(target).filename().empty() || fs::is_directory(target, ec))
        throw Error(path, "is a folder, expected a file name");
    fs::path parent = fs::path(target).parent_path();
    if (!parent.empty() && !fs::exists(parent, ec)) {
        fs::create_directories(parent, ec);
        if (ec) throw Error(path, "cannot create folder " + parent.string() + ": " + ec.message());
    }
    std::string tmp = temp_name_for(target);
    try {
        write(tmp);
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    fs::rename(tmp, target, ec);
    if (ec) {
        std::string why = ec.message();
        fs::remove(tmp, ec);
        throw Error(path, "cannot write: " + why);
    }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    if (is_stream_output(path)) {
        write_stream(path, bytes.data(), bytes.size());
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
