// What every subcommand shares: global flags, batch planning and running, exit codes.
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
};

// A usage error (bad flag combination, unknown format): exit code 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Job {
    std::string input;
    std::string output;
};

// Expands inputs (files, folders searched recursively for `input_exts`) into jobs.
// With one plain-file input, `output` is the output file ("-" allowed). With several
// inputs or a folder, `output` is a folder (created) and each job writes
// DIR/<stem>.<out_ext>. Throws UsageError when that cannot work.
std::vector<Job> plan_jobs(const std::vector<std::string>& inputs, const std::string& output,
                           const std::vector<std::string>& input_exts, const std::string& out_ext);

// Runs every job, going on past failures; prints progress to stderr when it is a
// terminal (and not quiet) and the list of failures at the end. Returns kOk or kFailed.
int run_jobs(const std::vector<Job>& jobs, const GlobalOptions& g, const std::string& verb,
             const std::function<void(const Job&)>& fn);

bool progress_enabled(const GlobalOptions& g);

// Resolves the model bundle folder: --models, $UMT_MODELS, then models/default
// next to the executable's source tree or installed share folder.
std::string resolve_models_dir(const GlobalOptions& g);

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
