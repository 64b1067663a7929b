// The batch engine every file subcommand shares: inputs (files, folders, --glob, --inputs LIST)
// -> jobs with mirrored output paths, --shard, resume, --jobs in parallel, --report JSONL,
// progress, and the failure summary. docs/BATCH.md describes it for users.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "umt/cli/common.hpp"
#include "umt/core/timings.hpp"

namespace CLI { class App; }

namespace umt::cli {

// The batch flags, registered on every file subcommand.
struct BatchFlags {
    std::vector<std::string> globs;  // --glob: folder files whose relative path or name matches
    std::string inputs_list;         // --inputs LIST: one input a line, or input<TAB>output
    int jobs = 0;                    // --jobs N: inputs in parallel (0: workers_for decides)
    bool overwrite = false;          // --overwrite: redo finished outputs
    std::string shard;               // --shard I/N
    std::string report;              // --report FILE.jsonl
};
void add_batch_flags(CLI::App* sub, BatchFlags& f);

struct Job {
    std::string input;
    std::string output;
};

// What one subcommand reads and writes.
struct BatchSpec {
    std::string verb;                      // "convert": names jobs in progress, errors, the report
    std::vector<std::string> inputs;       // the positional inputs
    std::string output;                    // -o
    std::vector<std::string> input_exts;   // what folders are searched for (without --glob)
    std::vector<std::string> output_exts;  // what a file output may end in; empty: anything
    std::string out_ext;                   // each output's extension inside an output folder
    bool folder_output = false;            // the output is always a folder (umt systems): -o DIR
    // When a batch output counts as finished (resume); default: a regular file no older than the input.
    std::function<bool(const Job&)> finished;
};

struct BatchPlan {
    std::vector<Job> jobs;      // this shard's, sorted by input
    size_t planned = 0;         // jobs before sharding
    bool batch = false;         // several inputs, a folder or a list: outputs go to a folder, resume applies
    std::function<bool(const Job&)> finished;  // BatchSpec::finished or the default
};

// Expands and checks everything before any work starts; throws UsageError (exit 2) for an
// output that cannot be written (wrong extension, a file where a folder is needed, the input itself).
BatchPlan plan_batch(const BatchSpec& spec, const BatchFlags& flags);

// What a job tells the engine besides success or an exception.
struct JobContext {
    Timings timings;                    // seconds per stage, into the report
    std::vector<std::string> warnings;  // every warning logged while the job ran (collected by the engine)
    int threads = 1;                    // model threads this job may use
};

using JobFn = std::function<void(const Job& job, JobContext& ctx)>;

// Runs the plan (its --jobs workers in one process), going on past failures: skips finished
// outputs in a batch unless --overwrite, writes one report line per input as it finishes, a
// progress line on a terminal, and the failures at the end. Returns kOk or kFailed.
// workers / threads > 0 replace workers_for / threads_per_job (a pooled decoding run: more jobs
// in flight than cores, their decoding shared).
int run_batch(const BatchPlan& plan, const BatchFlags& flags, const GlobalOptions& g, const std::string& verb,
              const JobFn& fn, int workers = 0, int threads = 0);

// Workers for `inputs` jobs: --jobs N, else one per usable core (each on one model thread: the
// decoding loop's small matrices gain more from inputs in parallel than from threads inside one),
// else with --threads T the cores / T; never more than the inputs.
int workers_for(const BatchFlags& flags, const GlobalOptions& g, size_t inputs);
// Model threads per job: --threads, else the usable cores split between the workers (all of them
// for a single input).
int threads_per_job(const BatchFlags& flags, const GlobalOptions& g, size_t inputs);

}  // namespace umt::cli
