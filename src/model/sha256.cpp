// SHA-256 through OpenSSL's libcrypto (EVP digest API).
#include "umt/model/sha256.hpp"

#include <openssl/evp.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"

namespace umt::model {

std::string sha256_hex(const std::string& bytes) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1)
        throw Error("SHA-256: OpenSSL's digest failed");
    static const char* kHex = "0123456789abcdef";
    std::string out;
    out.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 15];
    }
    return out;
}

namespace {

std::mutex cache_mu;
bool cache_enabled = [] {
    const char* env = std::getenv("UMT_HASH_CACHE");
    return !(env && std::string(env) == "0");
}();

std::string cache_path() {
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/umt/sha256.tsv";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/umt/sha256.tsv";
    return "";
}

// "dev ino size mtime_ns ctime_ns": what must not have changed for the cached digest to hold.
std::string stat_key(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "";
    std::ostringstream k;
    k << st.st_dev << ' ' << st.st_ino << ' ' << st.st_size << ' '
      << (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec << ' '
      << (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    return k.str();
}

// path -> (key, digest)
std::map<std::string, std::pair<std::string, std::string>> read_cache(const std::string& file) {
    std::map<std::string, std::pair<std::string, std::string>> out;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        // key \t digest \t path
        size_t a = line.find('\t'), b = a == std::string::npos ? a : line.find('\t', a + 1);
        if (b == std::string::npos) continue;
        std::string digest = line.substr(a + 1, b - a - 1);
        if (digest.size() == 64) out[line.substr(b + 1)] = {line.substr(0, a), digest};
    }
    return out;
}

}  // namespace

void set_hash_cache_enabled(bool enabled) {
    std::lock_guard<std::mutex> lock(cache_mu);
    cache_enabled = enabled;
}

std::string sha256_file(const std::string& path) {
    std::error_code ec;
    const std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
    const std::string file = cache_path();
    std::lock_guard<std::mutex> lock(cache_mu);
    const std::string key = stat_key(path);
    if (!cache_enabled || file.empty() || key.empty()) return sha256_hex(read_file(path, true));
    auto cache = read_cache(file);
    if (auto it = cache.find(abs); it != cache.end() && it->second.first == key) return it->second.second;
    std::string digest = sha256_hex(read_file(path, true));
    // Recorded only when the file did not change while it was read.
    if (stat_key(path) != key) return digest;
    cache[abs] = {key, digest};
    std::string text;
    for (const auto& [p, kd] : cache)
        if (!p.empty() && p.find('\n') == std::string::npos) text += kd.first + "\t" + kd.second + "\t" + p + "\n";
    try {
        write_file_atomic(file, text);
    } catch (const std::exception& e) {
        spdlog::debug("sha256 cache not written: {}", e.what());
    }
    return digest;
}

}  // namespace umt::model
