// umt: the unified music translator. Entry point: global flags and subcommand dispatch.
#include <algorithm>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "umt/cli/common.hpp"

namespace {

// The first word that is neither an option nor an option's value, when it names no subcommand
// (CLI11 alone would answer "A subcommand is required").
std::string unknown_subcommand(CLI::App& app, int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") return "";
        if (a.size() > 1 && a[0] == '-') {
            if ((a == "--models" || a == "--threads") && i + 1 < argc) ++i;
            continue;
        }
        try {
            app.get_subcommand(a);
            return "";
        } catch (const CLI::OptionNotFound&) {
            return a;
        }
    }
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    using namespace umt::cli;
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
    register_info(app, g, rc);
    register_systems(app, g, rc);
    register_model_tasks(app, g, rc);
    register_generate(app, g, rc);
    register_codec(app, g, rc);
    register_tokens(app, g, rc);

    app.parse_complete_callback([&] {
        auto level = g.quiet ? spdlog::level::err
                     : g.verbose >= 2 ? spdlog::level::debug
                     : g.verbose == 1 ? spdlog::level::info
                                      : spdlog::level::warn;
        // The terminal shows what -q/-v ask for; warnings still reach the batch report.
        logger->sinks().front()->set_level(level);
        logger->set_level(std::min(level, spdlog::level::warn));
    });
    if (std::string unknown = unknown_subcommand(app, argc, argv); !unknown.empty()) {
        std::string names;
        for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
            names += (names.empty() ? "" : ", ") + sub->get_name();
        spdlog::error("unknown subcommand '{}' (the subcommands: {}; umt --help)", unknown, names);
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
