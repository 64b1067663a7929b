// umt: the unified music translator. Entry point: global flags and subcommand dispatch.
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "umt/cli/common.hpp"

namespace {

// The first word that is neither an option nor an option's value: the subcommand, if any
// (CLI11 alone would answer "A subcommand is required" for an unknown one).
std::string first_word(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") return "";
        if (a.size() > 1 && a[0] == '-') {
            if ((a == "--models" || a == "--threads") && i + 1 < argc) ++i;
            continue;
        }
        return a;
    }
    return "";
}

bool asks_for_help(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::string a = argv[i]; a == "-h" || a == "--help") return true;
    return false;
}

bool is_subcommand(CLI::App& app, const std::string& name) {
    try {
        app.get_subcommand(name);
        return true;
    } catch (const CLI::OptionNotFound&) {
        return false;
    }
}

// Opens libumt_media.so beside the executable (or in ../lib/umt when installed) and registers
// its subcommands. Returns why it could not, or "".
std::string load_media(CLI::App& app, umt::cli::GlobalOptions& g, int& rc) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("UMT_MEDIA_LIBRARY"); env && *env) candidates.push_back(env);
    if (!ec) {
        candidates.push_back(exe.parent_path() / "libumt_media.so");
        candidates.push_back(exe.parent_path() / ".." / "lib" / "umt" / "libumt_media.so");
    }
    std::string tried;
    for (const auto& path : candidates) {
        if (!fs::exists(path, ec)) {
            tried += (tried.empty() ? "" : ", ") + path.string();
            continue;
        }
        void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!lib) return std::string("cannot load ") + path.string() + ": " + dlerror();
        auto abi = reinterpret_cast<int (*)()>(dlsym(lib, "umt_media_abi"));
        auto reg = reinterpret_cast<void (*)(CLI::App&, umt::cli::GlobalOptions&, int&)>(dlsym(lib, "umt_register_media"));
        if (!abi || !reg) return path.string() + ": not a umt media library (no umt_register_media)";
        if (abi() != umt::cli::kMediaAbi)
            return path.string() + ": built for another umt (interface " + std::to_string(abi()) + ", this umt " +
                   std::to_string(umt::cli::kMediaAbi) + "); rebuild";
        reg(app, g, rc);
        return "";
    }
    return "the model, image and audio subcommands are in libumt_media.so, which is not installed (looked for " + tried + ")";
}

}  // namespace

int main(int argc, char** argv) {
    using namespace umt::cli;
    // The decoding loop's key/value cache grows by one frame a step, so every step asks for
    // blocks a little bigger than any freed: under glibc's sliding mmap threshold each of them
    // was a fresh mapping, zeroed page by page (a quarter of a decode went to page faults).
    // Blocks below 32 MB come from the heap, and the heap keeps what it freed.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
    // Logs go to stderr; results go to files or stdout.
    auto logger = spdlog::stderr_color_mt("umt");
    logger->set_pattern("umt: %^%l%$: %v");
    spdlog::set_default_logger(logger);

    CLI::App app{"umt - the unified music translator: score images, notation, MIDI and audio"};
    app.set_version_flag("--version", std::string("umt ") + UMT_VERSION);
    app.require_subcommand(1);
    // Global options work before or after the subcommand (umt -q convert ... = umt convert ... -q):
    // every subcommand inherits fallthrough.
    app.fallthrough();
    GlobalOptions g;
    int rc = kOk;
    app.add_flag("-q,--quiet", g.quiet, "No progress output, errors only");
    app.add_flag("-v,--verbose", g.verbose, "More log output (repeat for debug)");
    app.add_option("--models", g.models_dir, "Model bundle folder (default: $UMT_MODELS or the shipped models/default)");
    app.add_option("--threads", g.threads, "Model threads per input (default: the cores split between --jobs)")
        ->check(CLI::NonNegativeNumber);

    register_convert(app, g, rc);
    register_eval(app, g, rc);
    register_generate(app, g, rc);
    register_tokens(app, g, rc);
    // The model, image and audio subcommands live in a library opened only when needed.
    const std::string first = first_word(argc, argv);
    const auto& media = media_subcommands();
    if (std::find(media.begin(), media.end(), first) != media.end() || (first.empty() && asks_for_help(argc, argv))) {
        if (std::string why = load_media(app, g, rc); !why.empty()) {
            spdlog::error("{}", why);
            return kFailed;
        }
    }

    app.parse_complete_callback([&] {
        auto level = g.quiet ? spdlog::level::err
                     : g.verbose >= 2 ? spdlog::level::debug
                     : g.verbose == 1 ? spdlog::level::info
                                      : spdlog::level::warn;
        // The terminal shows what -q/-v ask for; warnings still reach the batch report.
        logger->sinks().front()->set_level(level);
        logger->set_level(std::min(level, spdlog::level::warn));
    });
    if (!first.empty() && !is_subcommand(app, first)) {
        std::string names;
        for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
            names += (names.empty() ? "" : ", ") + sub->get_name();
        for (const auto& m : media)
            if (!is_subcommand(app, m)) names += ", " + m;
        spdlog::error("unknown subcommand '{}' (the subcommands: {}; umt --help)", first, names);
        return kUsage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? kOk : kUsage;
    } catch (const UsageError& e) {
        spdlog::error("{}", e.what());
        return kUsage;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return kFailed;
    }
    return rc;
}
