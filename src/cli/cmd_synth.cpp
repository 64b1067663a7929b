// umt synth: MIDI -> audio. Engine "fluidsynth" (SoundFont) or "neural" (the model bundle).
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "task_flags.hpp"
#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/audio.hpp"
#include "umt/io/midi.hpp"
#include "umt/model/bundle.hpp"
#include "umt/synth/fluidsynth.hpp"
#include "umt/tasks/tasks.hpp"

namespace umt::cli {

namespace {

struct SynthArgs {
    std::vector<std::string> inputs;
    std::string output;
    std::string engine;  // empty: neural when the bundle can synthesize, else fluidsynth
    std::string soundfont;
    int rate_hz = 44100;
    float gain = 0.5f;
    int bits = 16;
    std::string format = "wav";
    bool no_reverb = false;
    tasks::SynthOptions neural;
    TaskFlags flags;
    CLI::Option* rate_opt = nullptr;
};

}  // namespace

void register_synth(CLI::App& app, GlobalOptions& g, int& rc) {
    auto a = std::make_shared<SynthArgs>();
    auto* sub = app.add_subcommand("synth", "Render MIDI files to audio (neural model bundle, or FluidSynth with a SoundFont)");
    sub->fallthrough();
    sub->add_option("inputs", a->inputs, "MIDI files or folders (.mid, .midi)")->required();
    sub->add_option("-o,--output", a->output, "Output audio file (.wav/.flac/.ogg, '-' = WAV on stdout), or a folder for several inputs")->required();
    sub->add_option("--engine", a->engine,
                    "Synthesis engine: neural (the model bundle; the default when it can synthesize) or fluidsynth")
        ->check(CLI::IsMember({"fluidsynth", "neural"}));
    sub->add_option("--soundfont", a->soundfont, "SoundFont (.sf2) for fluidsynth (default: $UMT_SOUNDFONT, then FluidR3_GM, TimGM6mb, default-GM)");
    a->rate_opt = sub->add_option("--rate", a->rate_hz, "Output sample rate in Hz (fluidsynth default 44100; neural: the codec's rate)")
                      ->check(CLI::Range(8000, 96000));
    sub->add_option("--gain", a->gain, "FluidSynth master gain")->check(CLI::Range(0.001, 10.0));
    sub->add_option("--bits", a->bits, "PCM bit depth: 16, 24, or 32 (float WAV)")->check(CLI::IsMember({16, 24, 32}));
    sub->add_option("--format", a->format, "Output format for folder output: wav, flac, ogg")
        ->check(CLI::IsMember({"wav", "flac", "ogg"}));
    sub->add_flag("--no-reverb", a->no_reverb, "Render without FluidSynth's reverb");
    sub->add_option("--window", a->neural.window_s, "Neural: seconds of MIDI per decoded window (at most 10)")
        ->check(CLI::Range(0.5, 10.0));
    sub->add_option("--prime", a->neural.prime_s, "Neural: seconds of the last window's codes each window continues (0 = independent, batched windows)")
        ->check(CLI::Range(0.0, 5.0));
    add_task_flags(sub, a->flags);
    sub->callback([a, &g, &rc] {
        std::unique_ptr<model::ModelBundle> bundle;
        if (a->engine != "fluidsynth") {
            std::string dir = resolve_models_dir(g);
            bool installed = std::filesystem::exists(std::filesystem::path(dir) / "manifest.json");
            if (a->engine == "neural") {
                if (!installed)
                    throw umt::Error("umt synth --engine neural: no model bundle installed (looked in " + dir +
                                     "); pass --models DIR or use --engine fluidsynth");
                bundle = std::make_unique<model::ModelBundle>(dir);
            } else if (installed) {
                try {
                    bundle = std::make_unique<model::ModelBundle>(dir);
                    if (!tasks::bundle_supports(*bundle, "synth")) bundle.reset();
                } catch (const std::exception& e) {
                    spdlog::warn("synth: the model bundle cannot be used ({}); using fluidsynth", e.what());
                }
            }
            if (!bundle) spdlog::info("synth: no model bundle that can synthesize (looked in {}); using fluidsynth", dir);
        }
        if (bundle) {
            auto s = a->flags.settings();
            tasks::set_threads(a->flags.threads);
            auto jobs = plan_jobs(a->inputs, a->output, {"mid", "midi", "smf"}, a->format);
            AudioWriteOptions wopts;
            wopts.bits = a->bits;
            if (a->rate_opt->count()) wopts.sample_rate_hz = a->rate_hz;
            rc = run_jobs(jobs, g, "synth", [&](const Job& job) {
                tasks::Timings t;
                Performance perf;
                {
                    tasks::StageTimer timer(&t, "read");
                    perf = read_midi(job.input);
                }
                if (perf.notes.empty()) throw umt::Error(job.input, "MIDI file has no notes to render");
                Audio audio = tasks::synthesize(*bundle, perf, s, a->neural, &t);
                tasks::StageTimer timer(&t, "write");
                write_audio(audio, job.output, wopts);
                timer.stop();
                spdlog::info("synth: {} -> {} ({:.1f} s, neural): {}", job.input, job.output, audio.duration_s(), t.summary());
            });
            return;
        }
        auto jobs = plan_jobs(a->inputs, a->output, {"mid", "midi", "smf"}, a->format);
        synth::FluidSynthOptions opts;
        opts.soundfont = a->soundfont;
        opts.sample_rate_hz = a->rate_hz;
        opts.gain = a->gain;
        opts.reverb = !a->no_reverb;
        // One renderer for the whole batch: the SoundFont loads once.
        synth::FluidSynthRenderer renderer(opts);
        spdlog::info("synth: SoundFont {}", renderer.options().soundfont);
        AudioWriteOptions wopts;
        wopts.bits = a->bits;
        rc = run_jobs(jobs, g, "synth", [&](const Job& job) {
            std::string bytes = read_file(job.input);
            // parse_midi gives a precise error for a damaged file; FluidSynth's player
            // would skip it silently. The player then plays the file itself so every
            // controller and pitch bend is honoured, not only what Performance keeps.
            Performance perf = parse_midi(bytes, job.input);
            if (perf.notes.empty()) throw umt::Error(job.input, "MIDI file has no notes to render");
            Audio audio = renderer.render_midi(bytes, job.input);
            write_audio(audio, job.output, wopts);
            spdlog::info("synth: {} -> {} ({:.1f} s)", job.input, job.output, audio.duration_s());
        });
    });
}

}  // namespace umt::cli
