// umt synth: MIDI -> audio. Engine "fluidsynth" (SoundFont); "neural" needs a model bundle.
#include <memory>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/audio.hpp"
#include "umt/io/midi.hpp"
#include "umt/synth/fluidsynth.hpp"

namespace umt::cli {

namespace {

struct SynthArgs {
    std::vector<std::string> inputs;
    std::string output;
    std::string engine = "fluidsynth";
    std::string soundfont;
    int rate_hz = 44100;
    float gain = 0.5f;
    int bits = 16;
    std::string format = "wav";
    bool no_reverb = false;
};

}  // namespace

void register_synth(CLI::App& app, GlobalOptions& g, int& rc) {
    auto a = std::make_shared<SynthArgs>();
    auto* sub = app.add_subcommand("synth", "Render MIDI files to audio (FluidSynth with a SoundFont)");
    sub->add_option("inputs", a->inputs, "MIDI files or folders (.mid, .midi)")->required();
    sub->add_option("-o,--output", a->output, "Output audio file (.wav/.flac/.ogg, '-' = WAV on stdout), or a folder for several inputs")->required();
    sub->add_option("--engine", a->engine, "Synthesis engine: fluidsynth, or neural (needs a model bundle)")
        ->check(CLI::IsMember({"fluidsynth", "neural"}));
    sub->add_option("--soundfont", a->soundfont, "SoundFont (.sf2) for fluidsynth (default: $UMT_SOUNDFONT, then FluidR3_GM, TimGM6mb, default-GM)");
    sub->add_option("--rate", a->rate_hz, "Output sample rate in Hz")->check(CLI::Range(8000, 96000));
    sub->add_option("--gain", a->gain, "FluidSynth master gain")->check(CLI::Range(0.001, 10.0));
    sub->add_option("--bits", a->bits, "PCM bit depth: 16, 24, or 32 (float WAV)")->check(CLI::IsMember({16, 24, 32}));
    sub->add_option("--format", a->format, "Output format for folder output: wav, flac, ogg")
        ->check(CLI::IsMember({"wav", "flac", "ogg"}));
    sub->add_flag("--no-reverb", a->no_reverb, "Render without FluidSynth's reverb");
    sub->callback([a, &g, &rc] {
        if (a->engine == "neural")
            throw umt::Error("umt synth --engine neural: no model bundle installed yet; use --engine fluidsynth");
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
