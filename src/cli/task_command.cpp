// The model subcommands' shared flags, bundle opening and run skeleton.
#include "task_command.hpp"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/model/runtime.hpp"

namespace umt::cli {

namespace fs = std::filesystem;

tasks::DecodeSettings TaskFlags::settings() const {
    tasks::DecodeSettings s;
    if (temperature_opt && temperature_opt->count()) s.temperature = temperature;
    if (top_p_opt && top_p_opt->count()) s.top_p = top_p;
    if (top_k_opt && top_k_opt->count()) s.top_k = top_k;
    s.seed = seed;
    s.max_len = max_len;
    s.batch = batch;
    s.validate();
    return s;
}

void add_task_flags(CLI::App* sub, TaskFlags& f) {
    f.temperature_opt = sub->add_option("--temperature", f.temperature,
                                        "Sampling temperature (0 = greedy; default: the task's sampler)");
    f.top_p_opt = sub->add_option("--top-p", f.top_p, "Nucleus sampling: keep the most likely ids up to this probability");
    f.top_k_opt = sub->add_option("--top-k", f.top_k, "Keep only the k most likely ids (0 = off)");
    sub->add_option("--seed", f.seed, "Random seed of sampling (same seed, same input: same output)");
    sub->add_option("--max-len", f.max_len, "Frames generated per sequence at most (default: tied to the input size)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--batch", f.batch, "Sequences (systems, windows) decoded together")->check(CLI::Range(1, 256));
    sub->add_option("--threads", f.threads, "Torch threads (default: hardware concurrency)")->check(CLI::NonNegativeNumber);
}

namespace {
bool installed(const std::string& dir) { return fs::exists(fs::path(dir) / "manifest.json"); }
}  // namespace

std::unique_ptr<model::ModelBundle> open_bundle(const GlobalOptions& g, const std::string& who,
                                                const std::string& otherwise) {
    std::string dir = resolve_models_dir(g);
    if (!installed(dir))
        throw umt::Error(who + ": no model bundle installed (looked in " + dir + "); pass --models DIR or " + otherwise);
    return std::make_unique<model::ModelBundle>(dir);
}

std::unique_ptr<model::ModelBundle> open_capable_bundle(const GlobalOptions& g, const tasks::TaskSpec& spec) {
    std::string dir = resolve_models_dir(g);
    if (!installed(dir)) return nullptr;
    try {
        auto b = std::make_unique<model::ModelBundle>(dir);
        if (tasks::bundle_supports(*b, spec)) return b;
        spdlog::info("{}: the model bundle in {} has no {} model", spec.name, dir, spec.name);
    } catch (const std::exception& e) {
        spdlog::warn("{}: the model bundle cannot be used: {}", spec.name, e.what());
    }
    return nullptr;
}

int run_task(const TaskRun& run, const GlobalOptions& g) {
    auto s = run.flags->settings();
    model::set_threads(run.flags->threads);
    auto jobs = plan_jobs(run.inputs, run.output, run.input_exts, run.out_ext);
    Timings load;
    std::unique_ptr<model::ModelBundle> bundle = run.open(&load);
    return run_jobs(jobs, g, run.verb, [&](const Job& job) {
        Timings t = load;
        run.run_job(bundle.get(), s, job, t);
        if (run.log_timings) spdlog::info("{}: {} -> {}: {}", run.verb, job.input, job.output, t.summary());
        load = {};
    });
}

}  // namespace umt::cli
