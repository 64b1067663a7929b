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

std::vector<Job> plan_jobs(const std::vector<std::string>& inputs, const std::string& output,
                           const std::vector<std::string>& input_exts, const std::string& out_ext) {
    if (inputs.empty()) throw UsageError("no input given");
    std::vector<std::string> files;
    bool from_folder = false;
    for (const auto& in : inputs) {
        std::error_code ec;
        if (in != "-" && fs::is_directory(in, ec)) {
            from_folder = true;
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(in, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (!it->is_regular_file()) continue;
                std::string ext = extension_of(it->path().string());
                if (std::find(input_exts.begin(), input_exts.end(), ext) != input_exts.end())
                    found.push_back(it->path().string());
            }
            std::sort(found.begin(), found.end());
            if (found.empty()) spdlog::warn("{}: no input files found in this folder", in);
            files.insert(files.end(), found.begin(), found.end());
        } else {
            files.push_back(in);
        }
    }
    std::vector<Job> jobs;
    bool many = from_folder || inputs.size() > 1;
    if (!many) {
        if (output.empty()) throw UsageError("no output given (-o FILE)");
        std::error_code ec;
        if (fs::is_directory(output, ec))
            jobs.push_back({files[0], (fs::path(output) / (fs::path(files[0]).stem().string() + "." + out_ext)).string()});
        else
            jobs.push_back({files[0], output});
        return jobs;
    }
    if (output.empty() || output == "-") throw UsageError("several inputs need an output folder (-o DIR)");
    std::error_code ec;
    if (fs::exists(output, ec) && !fs::is_directory(output, ec))
        throw UsageError(output + ": several inputs need an output folder, but this is a file");
    fs::create_directories(output, ec);
    std::set<std::string> used;
    for (const auto& f : files) {
        std::string stem = fs::path(f).stem().string();
        std::string name = stem + "." + out_ext;
        for (int k = 2; used.count(name); ++k) name = stem + "-" + std::to_string(k) + "." + out_ext;
        used.insert(name);
        jobs.push_back({f, (fs::path(output) / name).string()});
    }
    return jobs;
}

int run_jobs(const std::vector<Job>& jobs, const GlobalOptions& g, const std::string& verb,
             const std::function<void(const Job&)>& fn) {
    std::vector<std::string> failures;
    bool progress = progress_enabled(g) && jobs.size() > 1;
    for (size_t i = 0; i < jobs.size(); ++i) {
        const auto& job = jobs[i];
        if (progress) std::cerr << "\r\033[K[" << i + 1 << "/" << jobs.size() << "] " << verb << " " << job.input << std::flush;
        try {
            fn(job);
            spdlog::debug("{} {} -> {}", verb, job.input, job.output);
        } catch (const std::exception& e) {
            if (progress) std::cerr << "\r\033[K";
            std::string msg = e.what();
            // Messages from umt::Error already name the file; others get it prefixed.
            if (msg.rfind(job.input, 0) != 0) msg = job.input + ": " + msg;
            spdlog::error("{}", msg);
            failures.push_back(msg);
        }
    }
    if (progress) std::cerr << "\r\033[K";
    if (jobs.size() > 1 && !failures.empty()) {
        std::cerr << failures.size() << " of " << jobs.size() << " inputs failed:\n";
        for (const auto& f : failures) std::cerr << "  " << f << "\n";
    }
    return failures.empty() ? kOk : kFailed;
}

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
