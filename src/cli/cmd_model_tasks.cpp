// umt omr / amt / engrave / i2a / a2i: the neural translations, run through the model bundle.
#include <filesystem>

#include <CLI/CLI.hpp>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/model/bundle.hpp"

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
        sub->fallthrough();  // umt omr --models DIR ... as well as umt --models DIR omr ...
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
            // The bundle is verified (hashes, vocabulary, loadable modules) before any input is read.
            umt::model::ModelBundle bundle(dir);
            bundle.load_all();
            rc = kFailed;
            throw umt::Error("umt " + name + ": the input preparation and output decoding of this task are not built yet");
        });
    }
}

}  // namespace umt::cli
