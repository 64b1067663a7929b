// What the model subcommands (omr, amt, engrave, synth, i2a, a2i, and codec) share: the decoding
// flags, opening the model bundle, and the run skeleton (settings, threads, jobs, bundle, stage
// timings).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "umt/cli/batch.hpp"
#include "umt/cli/common.hpp"
#include "umt/core/timings.hpp"
#include "umt/model/bundle.hpp"
#include "umt/tasks/task_table.hpp"

namespace umt::cli {

struct TaskFlags {
    float temperature = 0.0f;
    float top_p = 1.0f;
    int top_k = 0;
    uint64_t seed = 0;
    int max_len = 0;
    int batch = 8;
    CLI::Option* temperature_opt = nullptr;
    CLI::Option* top_p_opt = nullptr;
    CLI::Option* top_k_opt = nullptr;

    // Only the flags the user gave override the task's sampler defaults; throws umt::Error
    // explaining an invalid value.
    tasks::DecodeSettings settings() const;
};

void add_task_flags(CLI::App* sub, TaskFlags& f);

// The bundle resolve_models_dir names, its manifest and hashes checked once for the run; modules
// load on first use. Throws umt::Error "<who>: no model bundle installed (looked in DIR); pass
// --models DIR or <otherwise>" when there is none.
std::unique_ptr<model::ModelBundle> open_bundle(const GlobalOptions& g, const std::string& who,
                                                const std::string& otherwise = "set UMT_MODELS");
// The installed bundle when it loads and is meant to run the task; else null, the reason logged.
std::unique_ptr<model::ModelBundle> open_capable_bundle(const GlobalOptions& g, const tasks::TaskSpec& spec);

// One model subcommand's run, the same for every task.
struct TaskRun {
    std::string verb;  // "omr": names the jobs in progress, errors and logs
    const TaskFlags* flags = nullptr;
    std::vector<std::string> inputs;
    std::string output;
    std::vector<std::string> input_exts;  // what folders are searched for
    std::string out_ext;                  // of each job's output in an output folder
    std::vector<std::string> output_exts;  // what a file output may end in
    const BatchFlags* batch = nullptr;
    // The bundle for the run (null: the task runs without one), its load timed on `load`.
    std::function<std::unique_ptr<model::ModelBundle>(Timings* load)> open;
    // One job; its stages timed on `t`.
    std::function<void(model::ModelBundle* bundle, const tasks::DecodeSettings& s, const Job& job, Timings& t)> run_job;
    bool log_timings = true;  // false: run_job logs the job itself
    // Inputs of a batch decode in shared batches (model::DecodePool): up to --batch inputs in
    // flight per decoding slot, one slot per core (or per --threads T), or --jobs inputs.
    bool pooled = false;
};
// Checks the settings, plans the jobs, opens the bundle (and loads its modules when --jobs runs
// several at once), then runs every job through the batch engine, each with its share of the
// threads, and logs its stage timings, the bundle's load in the first. Returns run_batch's code.
int run_task(const TaskRun& run, const GlobalOptions& g);

}  // namespace umt::cli
