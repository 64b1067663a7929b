// umt: the unified music translator. Entry point: global flags and subcommand dispatch.
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "umt/cli/common.hpp"

int main(int argc, char** argv) {
    using namespace umt::cli;
    // Logs go to stderr; results go to files or stdout.
    auto logger = spdlog::stderr_color_mt("umt");
    logger->set_pattern("umt: %^%l%$: %v");
    spdlog::set_default_logger(logger);

    CLI::App app{"umt - the unified music translator: score images, notation, MIDI and audio"};
    app.set_version_flag("--version", std::string("umt ") + UMT_VERSION);
    app.require_subcommand(1);
    GlobalOptions g;
    int rc = kOk;
    app.add_flag("-q,--quiet", g.quiet, "No progress output, errors only");
    app.add_flag("-v,--verbose", g.verbose, "More log output (repeat for debug)");
    app.add_option("--models", g.models_dir, "Model bundle folder (default: $UMT_MODELS or the shipped models/default)");

    register_convert(app, g, rc);
    register_eval(app, g, rc);
    register_info(app, g, rc);
    register_systems(app, g, rc);
    register_model_tasks(app, g, rc);
    register_generate(app, g, rc);
    register_codec(app, g, rc);
    register_tokens(app, g, rc);

    app.parse_complete_callback([&] {
        if (g.quiet) spdlog::set_level(spdlog::level::err);
        else if (g.verbose >= 2) spdlog::set_level(spdlog::level::debug);
        else if (g.verbose == 1) spdlog::set_level(spdlog::level::info);
        else spdlog::set_level(spdlog::level::warn);
    });
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
