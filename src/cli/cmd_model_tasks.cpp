// umt omr / amt / engrave / i2a / a2i: the neural translations, run through the model bundle.
#include <filesystem>

#include <CLI/CLI.hpp>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"

namespace umt::cli {

namespace {

struct TaskSpec {
    const char* name;
    const char* help;
};

}  // namespace

void register_model_tasks(CLI::App& app, GlobalOptions& g, int& rc) {
    static const TaskSpec specs[] = {
        {"omr", "Optical music recognition: score image/PDF -> MusicXML or LMX"},
        {"amt", "Automatic music transcription: audio -> MIDI"},
        {"engrave", "Engraving: MusicXML/LMX -> score image"},
        {"i2a", "Score image -> performance audio"},
        {"a2i", "Performance audio -> score image"},
    };
    for (const auto& spec : specs) {
        auto* sub = app.add_subcommand(spec.name, spec.help);
        auto inputs = std::make_shared<std::vector<std::string>>();
        auto output = std::make_shared<std::string>();
        sub->add_option("inputs", *inputs, "Input files or folders")->required();
        sub->add_option("-o,--output", *output, "Output file or folder")->required();
        std::string name = spec.name;
        sub->callback([&g, &rc, name, inputs, output] {
            std::string dir = resolve_models_dir(g);
            if (!std::filesystem::exists(std::filesystem::path(dir) / "manifest.json")) {
                rc = kFailed;
                throw umt::Error("umt " + name + ": no model bundle installed yet (looked in " + dir +
                                 "); pass --models DIR or set UMT_MODELS");
            }
            rc = kFailed;
            throw umt::Error("umt " + name + ": the model runtime is not built yet");
        });
    }
}

}  // namespace umt::cli
