// The entry point of libumt_media.so: the subcommands that need the model runtime (libtorch),
// OpenCV, poppler or FluidSynth. main.cpp opens this library only when one of them runs, so an
// exact conversion starts without loading any of those (docs/BATCH.md, start-up).
#include <CLI/CLI.hpp>

#include "umt/cli/common.hpp"

extern "C" __attribute__((visibility("default"))) int umt_media_abi() { return umt::cli::kMediaAbi; }

extern "C" __attribute__((visibility("default"))) void umt_register_media(CLI::App& app, umt::cli::GlobalOptions& g,
                                                                          int& rc) {
    using namespace umt::cli;
    register_info(app, g, rc);
    register_systems(app, g, rc);
    register_model_tasks(app, g, rc);
    register_codec(app, g, rc);
}
