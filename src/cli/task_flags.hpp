// Decoding flags shared by the neural subcommands (omr, amt, engrave, synth, i2a, a2i).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "umt/tasks/tasks.hpp"

namespace umt::cli {

struct TaskFlags {
    float temperature = 0.0f;
    float top_p = 1.0f;
    int top_k = 0;
    uint64_t seed = 0;
    int max_len = 0;
    int batch = 8;
    int threads = 0;
    CLI::Option* temperature_opt = nullptr;
    CLI::Option* top_p_opt = nullptr;
    CLI::Option* top_k_opt = nullptr;

    // Only the flags the user gave override the task's sampler defaults.
    tasks::DecodeSettings settings() const {
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
};

inline void add_task_flags(CLI::App* sub, TaskFlags& f) {
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

}  // namespace umt::cli
