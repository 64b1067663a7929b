// Media benchmark: FluidSynth real-time factor and page -> systems throughput, as a table.
// usage: bench_media [piece.mid] [page images...]
//   without a MIDI file a 60 s generated piano piece is rendered; without pages the
//   committed test pages in tests/data/media are used.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "umt/core/files.hpp"
#include "umt/io/audio.hpp"
#include "umt/io/image.hpp"
#include "umt/io/midi.hpp"
#include "umt/layout/systems.hpp"
#include "umt/synth/fluidsynth.hpp"

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

umt::Performance generated_piece(double seconds) {
    // Two hands, ~10 notes/s, pedal changes every bar: a dense but ordinary piano texture.
    umt::Performance p;
    std::mt19937 rng(1);
    for (double t = 0; t < seconds; t += 0.25) {
        p.notes.push_back({t, t + 0.24, 60 + int(rng() % 24), 60 + int(rng() % 50), 0, 0});
        if (int(t * 4) % 2 == 0) p.notes.push_back({t, t + 0.5, 36 + int(rng() % 20), 50 + int(rng() % 40), 0, 0});
        if (int(t * 4) % 8 == 0) {
            p.pedals.push_back({t, false, 0});
            p.pedals.push_back({t + 0.05, true, 0});
        }
    }
    p.sort();
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    std::string midi;
    std::vector<std::string> pages;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        std::string ext = umt::extension_of(a);
        if (ext == "mid" || ext == "midi") midi = a;
        else pages.push_back(a);
    }
    if (pages.empty())
        for (const char* f : {"lieder-lc4985973-p2.png", "lieder-lc4945954-p4.png"})
            pages.push_back(std::string(UMT_SOURCE_DIR) + "/tests/data/media/" + f);

    std::printf("| benchmark | input | work | wall s | rate |\n|---|---|---|---|---|\n");
    for (const std::string font : {"/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2"}) {
        umt::synth::FluidSynthOptions o;
        o.soundfont = font;
        double t0 = now_s();
        umt::synth::FluidSynthRenderer r(o);
        double load = now_s() - t0;
        std::string name = font.substr(font.rfind('/') + 1);
        std::printf("| SoundFont load | %s | - | %.2f | - |\n", name.c_str(), load);
        umt::Performance perf = midi.empty() ? generated_piece(60.0) : umt::read_midi(midi);
        std::string input = midi.empty() ? "generated piano, 60 s" : midi;
        t0 = now_s();
        umt::Audio a = r.render(perf);
        double dt = now_s() - t0;
        std::printf("| fluidsynth render (Performance) | %s, %s | %.1f s audio | %.2f | %.0fx real time |\n", input.c_str(),
                    name.c_str(), a.duration_s(), dt, a.duration_s() / dt);
        if (!midi.empty()) {
            std::string bytes = umt::read_file(midi);
            t0 = now_s();
            a = r.render_midi(bytes, midi);
            dt = now_s() - t0;
            std::printf("| fluidsynth render (MIDI player) | %s, %s | %.1f s audio | %.2f | %.0fx real time |\n", input.c_str(),
                        name.c_str(), a.duration_s(), dt, a.duration_s() / dt);
        }
        if (font.find("FluidR3") != std::string::npos) {
            umt::Audio resampled;
            for (auto q : {umt::ResampleQuality::kMedium, umt::ResampleQuality::kBest}) {
                t0 = now_s();
                resampled = umt::resample(a, 16000, q);
                dt = now_s() - t0;
                std::printf("| resample 44.1 -> 16 kHz (%s) | rendered audio | %.1f s audio | %.3f | %.0fx real time |\n",
                            q == umt::ResampleQuality::kBest ? "SINC_BEST" : "SINC_MEDIUM", a.duration_s(), dt,
                            a.duration_s() / dt);
            }
        }
    }
    // Layout: read + analyse + normalize, repeated so the timing is stable.
    const int reps = 5;
    std::vector<umt::PageImage> imgs;
    for (const auto& p : pages) {
        auto v = umt::read_pages(p);
        imgs.insert(imgs.end(), v.begin(), v.end());
    }
    double t0 = now_s();
    size_t systems = 0;
    for (int k = 0; k < reps; ++k)
        for (const auto& im : imgs) systems += umt::layout::detect_systems(im.gray).size();
    double dt = now_s() - t0;
    std::printf("| systems (analyse + normalize) | %zu pages, %dx%d | %zu systems | %.2f | %.1f pages/s |\n", imgs.size() * reps,
                imgs.empty() ? 0 : imgs[0].gray.cols, imgs.empty() ? 0 : imgs[0].gray.rows, systems, dt, imgs.size() * reps / dt);
    return 0;
}
