// umt generate (placeholder until its owner lands it).
#include <CLI/CLI.hpp>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"

namespace umt::cli {

void register_generate(CLI::App& app, GlobalOptions& g, int& rc) {
    (void)g;
    auto* sub = app.add_subcommand("generate", "not implemented yet");
    sub->group("Developer");
    sub->callback([&rc] { rc = kFailed; throw umt::Error("umt generate is not implemented yet"); });
}

}  // namespace umt::cli
