// umt generate: procedural piano scores (MusicXML) for the training-data factory.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "umt/cli/batch.hpp"
#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/core/generate.hpp"
#include "umt/io/musicxml.hpp"

namespace umt::cli {

namespace {

struct GenerateArgs {
    uint64_t seed = 0;
    int measures = 16;
    int count = 1;
    std::string output;
};

bool is_score_file(const std::string& path) {
    const std::string ext = extension_of(path);
    return ext == "musicxml" || ext == "xml" || ext == "mxl";
}

}  // namespace

void register_generate(CLI::App& app, GlobalOptions& g, int& rc) {
    auto args = std::make_shared<GenerateArgs>();
    auto* sub = app.add_subcommand(
        "generate",
        "Write procedural piano scores (two staves) as MusicXML, for training data. "
        "Score i of a run uses seed S+i and is named gen-<seed>.musicxml in -o DIR; "
        "the same seed always gives the same score.");
    sub->group("Developer");
    sub->add_option("--seed", args->seed, "Seed of the first score")->default_val(0);
    sub->add_option("--measures", args->measures, "Measures per score")->default_val(16)
        ->check(CLI::Range(1, 100000));
    sub->add_option("--count", args->count, "Number of scores")->default_val(1)
        ->check(CLI::Range(1, 10000000));
    sub->add_option("-o,--output", args->output,
                    "Output file (.musicxml, .xml or .mxl; only with --count 1) or folder")
        ->required();
    sub->callback([args, &g, &rc] {
        // A name with an extension is a file and must be a score; anything else is a folder.
        const bool to_file = is_score_file(args->output) || is_stream_output(args->output);
        const std::string ext = extension_of(args->output);
        std::error_code ec;
        if (!to_file && !ext.empty() && !fs::is_directory(args->output, ec) && args->output.back() != '/')
            throw UsageError("generate: -o " + args->output + ": generate writes MusicXML (.musicxml, .xml, .mxl), not ." +
                             ext + "; for a folder end the name with /");
        if (to_file && args->count != 1)
            throw UsageError("generate: -o " + args->output + " is a file; use a folder with --count " +
                             std::to_string(args->count));
        BatchPlan plan;
        for (int i = 0; i < args->count; ++i) {
            const uint64_t seed = args->seed + static_cast<uint64_t>(i);
            std::string out = to_file ? args->output
                                      : (fs::path(args->output) / ("gen-" + std::to_string(seed) + ".musicxml")).string();
            plan.jobs.push_back({std::to_string(seed), out});
        }
        plan.planned = plan.jobs.size();
        plan.finished = [](const Job&) { return false; };
        const int measures = args->measures;
        rc = run_batch(plan, BatchFlags{}, g, "generate", [measures](const Job& job, JobContext&) {
            GeneratorOptions opts;
            opts.seed = std::stoull(job.input);
            opts.measures = measures;
            save_score(generate_piano_score(opts), job.output);
        });
    });
}

}  // namespace umt::cli
