// What every subcommand shares: global flags, exit codes, the model folder (the batch engine: batch.hpp).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI { class App; }

namespace umt::cli {

enum ExitCode { kOk = 0, kFailed = 1, kUsage = 2 };

struct GlobalOptions {
    bool quiet = false;
    int verbose = 0;
    std::string models_dir;  // --models, else $UMT_MODELS, else the shipped models/default
    int threads = 0;         // --threads: model threads per job (0: the cores split between --jobs)
};

// A usage error (bad flag combination, unknown format): exit code 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

bool progress_enabled(const GlobalOptions& g);

// Resolves the model bundle folder: --models, $UMT_MODELS, then models/default
// next to the executable's source tree or installed share folder.
std::string resolve_models_dir(const GlobalOptions& g);

// The subcommands in libumt_media.so (src/cli/media_entry.cpp), opened by main only when one
// of them runs (or for --help); the rest are in the executable, free of libtorch, OpenCV,
// poppler and FluidSynth.
inline const std::vector<std::string>& media_subcommands() {
    static const std::vector<std::string> names{"info", "systems", "omr", "amt", "engrave", "synth", "i2a", "a2i", "codec"};
    return names;
}
// Bumped when GlobalOptions or the registration signature changes: main refuses a library
// built against another layout.
constexpr int kMediaAbi = 1;

// Each subcommand registers itself (one file per subcommand in src/cli/).
void register_convert(CLI::App& app, GlobalOptions& g, int& rc);
void register_eval(CLI::App& app, GlobalOptions& g, int& rc);
void register_info(CLI::App& app, GlobalOptions& g, int& rc);
void register_systems(CLI::App& app, GlobalOptions& g, int& rc);
void register_model_tasks(CLI::App& app, GlobalOptions& g, int& rc);  // the task table: omr amt engrave synth i2a a2i
void register_generate(CLI::App& app, GlobalOptions& g, int& rc);      // procedural training scores
void register_codec(CLI::App& app, GlobalOptions& g, int& rc);         // codec round trips
void register_tokens(CLI::App& app, GlobalOptions& g, int& rc);        // MIDI event tokens (developer)

}  // namespace umt::cli
