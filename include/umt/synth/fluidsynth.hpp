// Offline synthesis with libfluidsynth and a SoundFont: Performance or MIDI bytes -> mono audio.
#pragma once

#include <memory>
#include <string>

#include "umt/core/performance.hpp"
#include "umt/io/audio.hpp"

namespace umt::synth {

struct FluidSynthOptions {
    std::string soundfont;         // empty: find_default_soundfont()
    int sample_rate_hz = 44100;
    // Master gain. FluidSynth's own default (0.2) leaves solo piano around -20 dBFS;
    // 0.5 brings typical piano pieces near -6 dBFS. Peaks above full scale are scaled
    // down after rendering (logged), never clipped.
    float gain = 0.5f;
    bool reverb = true;
    bool chorus = false;
    // The tail after the last event is rendered until the synthesizer is silent:
    // no active voice and a 50 ms block peak below tail_threshold (-80 dBFS), at most max_tail_s.
    double max_tail_s = 10.0;
    float tail_threshold = 1e-4f;
};

// The default SoundFont: $UMT_SOUNDFONT, else the first that exists of
// /usr/share/sounds/sf2/FluidR3_GM.sf2, TimGM6mb.sf2, default-GM.sf2.
// Throws umt::Error saying what to install when none is found.
std::string find_default_soundfont();

// Keeps one synthesizer with its SoundFont loaded, so that rendering many pieces
// (the data factory) pays the SoundFont load once. Not thread-safe: one per thread.
class FluidSynthRenderer {
public:
    explicit FluidSynthRenderer(const FluidSynthOptions& opts = {});
    ~FluidSynthRenderer();
    FluidSynthRenderer(const FluidSynthRenderer&) = delete;
    FluidSynthRenderer& operator=(const FluidSynthRenderer&) = delete;

    // Schedules the notes and sustain pedal of `perf` sample-accurately (to FluidSynth's
    // 64-sample block). Each (channel, program) pair gets its own synth channel, so
    // program changes never cut sounding notes. Throws umt::Error when perf has no notes.
    Audio render(const Performance& perf);

    // Plays a Standard MIDI File through FluidSynth's own player (tempo map, every
    // controller, pitch bend), timed by samples rather than a wall clock.
    // `source` names the bytes in errors.
    Audio render_midi(const std::string& smf_bytes, const std::string& source);

    const FluidSynthOptions& options() const { return opts_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    FluidSynthOptions opts_;
};

// One-shot conveniences (load the SoundFont, render, unload).
Audio render_fluidsynth(const Performance& perf, const FluidSynthOptions& opts = {});
Audio render_fluidsynth_midi(const std::string& smf_bytes, const std::string& source,
                             const FluidSynthOptions& opts = {});

}  // namespace umt::synth
