// umt systems (placeholder until its owner lands it).
#include <CLI/CLI.hpp>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"

namespace umt::cli {

void register_systems(CLI::App& app, GlobalOptions& g, int& rc) {
    (void)g;
    auto* sub = app.add_subcommand("systems", "not implemented yet");
    sub->callback([&rc] { rc = kFailed; throw umt::Error("umt systems is not implemented yet"); });
}

}  // namespace umt::cli
