// The model subcommands' shared flags, bundle opening and run skeleton.
#include "task_command.hpp"

#include <filesystem>
#include <mutex>

#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/core/cpus.hpp"
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
    BatchSpec spec;
    spec.verb = run.verb;
    spec.inputs = run.inputs;
    spec.output = run.output;
    spec.input_exts = run.input_exts;
    spec.out_ext = run.out_ext;
    spec.output_exts = run.output_exts;
    static const BatchFlags kNoBatch;
    const BatchFlags& batch = run.batch ? *run.batch : kNoBatch;
    auto plan = plan_batch(spec, batch);
    const size_t n = plan.jobs.size();
    // Pooled: the usual parallel decoders become the pool's slots, and each keeps up to --batch
    // inputs in flight so that their rows share its steps.
    std::unique_ptr<model::DecodePool> pool;
    int workers = 0, threads = 0;
    if (run.pooled && n > 1) {
        const int cores = usable_cores();
        // --jobs N: N inputs in flight on the slots the cores allow; else --batch inputs per slot.
        const int slots = batch.jobs > 0 ? std::max(1, std::min(batch.jobs, cores / std::max(1, g.threads)))
                                         : workers_for(batch, g, n);
        workers = batch.jobs > 0 ? batch.jobs : int(std::min<size_t>(n, size_t(slots) * size_t(std::max(1, s.batch))));
        threads = g.threads > 0 ? g.threads : std::max(1, cores / slots);
        if (workers > slots) {
            pool = std::make_unique<model::DecodePool>(slots);
            s.pool = pool.get();
            spdlog::debug("{}: {} inputs in flight, decoded in shared batches on {} slot(s) of {} thread(s)", run.verb,
                          workers, slots, threads);
        } else {
            workers = threads = 0;
        }
    }
    model::set_threads(threads > 0 ? threads : threads_per_job(batch, g, n));
    Timings load;
    std::unique_ptr<model::ModelBundle> bundle = run.open(&load);
    // Workers share the bundle: its modules load before they start.
    if (bundle && (workers > 1 || workers_for(batch, g, n) > 1)) bundle->load_all();
    std::mutex load_mu;
    return run_batch(plan, batch, g, run.verb, [&](const Job& job, JobContext& ctx) {
        // Torch's thread count is per calling thread (OpenMP): each worker sets its own.
        model::set_threads(ctx.threads);
        model::DecodePool::Member member(pool.get());
        {
            std::lock_guard<std::mutex> lock(load_mu);
            ctx.timings = load;
            load = {};
        }
        run.run_job(bundle.get(), s, job, ctx.timings);
        if (run.log_timings) spdlog::info("{}: {} -> {}: {}", run.verb, job.input, job.output, ctx.timings.summary());
    }, workers, threads);
}

}  // namespace umt::cli
