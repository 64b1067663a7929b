// umt tokens: the MIDI event tokens the translators read and write (docs/DESIGN.md section 2), for
// training-data preparation in scripts/ and for looking at what a model sees.
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "umt/cli/batch.hpp"
#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/io/midi.hpp"
#include "umt/tokens/midi_tokens.hpp"

namespace umt::cli {

namespace {

struct TokensArgs {
    std::vector<std::string> inputs;
    double window_s = midi_tokens::kDefaultSegmentSeconds;
    std::string requests;
    bool no_sustain = false;
};

std::string names(const midi_tokens::Segment& seg) {
    std::string out;
    for (int id : seg) {
        if (!out.empty()) out += ' ';
        out += midi_tokens::token_name(id);
    }
    return out;
}

void emit(const std::string& input, double start_s, const midi_tokens::Segment& seg) {
    nlohmann::json j{{"input", input}, {"start_s", start_s}, {"tokens", names(seg)}};
    std::cout << j.dump() << '\n';
}

Performance load(const std::string& path, bool sustain) {
    Performance p = read_midi(path);
    return sustain ? p.with_sustain_applied() : p;
}

}  // namespace

void register_tokens(CLI::App& app, GlobalOptions& g, int& rc) {
    auto args = std::make_shared<TokensArgs>();
    auto* sub = app.add_subcommand(
        "tokens",
        "Print the MIDI event tokens of MIDI files as JSON lines, one per segment ({input, start_s, tokens}); "
        "with --requests, one per requested window. Sustain pedal is applied to note lengths, as the "
        "translators see it.");
    sub->group("Developer");
    sub->add_option("inputs", args->inputs, "MIDI files (.mid)");
    sub->add_option("--window", args->window_s, "Segment length in seconds (at most 10)")
        ->default_val(midi_tokens::kDefaultSegmentSeconds)
        ->check(CLI::Range(0.01, midi_tokens::kDefaultSegmentSeconds));
    sub->add_option("--requests", args->requests,
                    "JSON-lines file of windows {\"midi\": FILE, \"start_s\": S, \"window_s\": W}: one output line each, "
                    "in order ({\"error\": ...} for a file that cannot be read)");
    sub->add_flag("--no-sustain", args->no_sustain, "Keep note lengths as written (pedal ignored)");
    sub->callback([args, &g, &rc] {
        if (args->inputs.empty() == args->requests.empty())
            throw UsageError("tokens: give MIDI files or --requests FILE, not both");
        const bool sustain = !args->no_sustain;
        if (!args->requests.empty()) {
            std::ifstream in(args->requests);
            if (!in) throw Error(args->requests, "cannot open the requests file");
            std::string line, cached_path;
            Performance cached;
            int n = 0, failed = 0;
            while (std::getline(in, line)) {
                ++n;
                if (line.empty()) continue;
                std::string path;
                double start = 0;
                try {
                    auto r = nlohmann::json::parse(line);
                    path = r.at("midi").get<std::string>();
                    start = r.value("start_s", 0.0);
                    double w = r.value("window_s", args->window_s);
                    if (!(w > 0 && w <= midi_tokens::kDefaultSegmentSeconds))
                        throw Error("window_s must be in (0, 10]");
                    if (path != cached_path) {
                        cached_path.clear();
                        cached = load(path, sustain);
                        cached_path = path;
                    }
                    emit(path, start, midi_tokens::encode_window(cached, start, w));
                } catch (const std::exception& e) {
                    ++failed;
                    std::cout << nlohmann::json{{"input", path}, {"start_s", start}, {"error", e.what()}}.dump() << '\n';
                    spdlog::error("{}:{}: {}", args->requests, n, e.what());
                }
            }
            rc = failed ? kFailed : kOk;
            return;
        }
        BatchPlan plan;
        for (const auto& p : args->inputs) plan.jobs.push_back({p, "-"});
        plan.planned = plan.jobs.size();
        rc = run_batch(plan, BatchFlags{}, g, "tokens", [&](const Job& job, JobContext&) {
            auto segs = midi_tokens::encode(load(job.input, sustain), args->window_s);
            for (size_t i = 0; i < segs.size(); ++i) emit(job.input, double(i) * args->window_s, segs[i]);
        });
    });
}

}  // namespace umt::cli
