#include "umt/cli/common.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"

namespace umt::cli {

namespace fs = std::filesystem;

bool progress_enabled(const GlobalOptions& g) { return !g.quiet && isatty(STDERR_FILENO); }

std::string resolve_models_dir(const GlobalOptions& g) {
    if (!g.models_dir.empty()) return g.models_dir;
    if (const char* env = std::getenv("UMT_MODELS"); env && *env) return env;
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        for (fs::path p : {exe.parent_path() / ".." / "models" / "default", exe.parent_path() / ".." / "share" / "umt" / "models" / "default"})
            if (fs::exists(p / "manifest.json", ec)) return fs::weakly_canonical(p, ec).string();
    }
#ifdef UMT_SOURCE_MODELS_DIR
    return std::string(UMT_SOURCE_MODELS_DIR) + "/default";
#else
    return "models/default";
#endif
}

}  // namespace umt::cli
