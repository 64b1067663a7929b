// FluidSynth rendering: onsets where the notes are, tempo maps, sustain pedal, tail, CLI errors.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "umt/core/error.hpp"
#include "umt/io/audio.hpp"
#include "umt/synth/fluidsynth.hpp"

namespace fs = std::filesystem;

namespace {

// The small GM SoundFont keeps the tests fast; the default (FluidR3) is exercised by the CLI test.
const char* kSmallFont = "/usr/share/sounds/sf2/TimGM6mb.sf2";

umt::synth::FluidSynthOptions small_font() {
    umt::synth::FluidSynthOptions o;
    o.soundfont = kSmallFont;
    return o;
}

// Energy onsets: 5 ms frames; an onset where a frame's energy is 12 dB above the mean of
// the previous 40 ms and above an absolute floor; 100 ms refractory period.
std::vector<double> energy_onsets(const umt::Audio& a) {
    const int hop = a.sample_rate_hz / 200;
    std::vector<double> e;
    for (size_t i = 0; i + hop <= a.samples.size(); i += size_t(hop)) {
        double s = 0;
        for (int k = 0; k < hop; ++k) s += double(a.samples[i + k]) * a.samples[i + k];
        e.push_back(s / hop);
    }
    std::vector<double> onsets;
    double last = -1;
    for (size_t i = 0; i < e.size(); ++i) {
        double prev = 0;  // silence before the start
        for (size_t k = i >= 8 ? i - 8 : 0; k < i; ++k) prev += e[k];
        prev /= 8;
        double t = double(i) * hop / a.sample_rate_hz;
        if (e[i] > 1e-7 && e[i] > 16 * prev + 1e-9 && t - last > 0.1) {
            onsets.push_back(t);
            last = t;
        }
    }
    return onsets;
}

void expect_onsets_near(const std::vector<double>& found, const std::vector<double>& want, double tol) {
    ASSERT_EQ(found.size(), want.size()) << "onsets found: " << ::testing::PrintToString(found);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(found[i], want[i], tol) << "onset " << i;
}

double rms(const umt::Audio& a, double t0, double t1) {
    size_t i0 = size_t(t0 * a.sample_rate_hz), i1 = std::min(a.samples.size(), size_t(t1 * a.sample_rate_hz));
    double s = 0;
    for (size_t i = i0; i < i1; ++i) s += double(a.samples[i]) * a.samples[i];
    return i1 > i0 ? std::sqrt(s / double(i1 - i0)) : 0.0;
}

// A tiny format-0 SMF writer, independent of umt's own MIDI code.
struct Smf {
    std::string track;
    uint32_t last_tick = 0;
    void vlq(uint32_t v) {
        std::string b(1, char(v & 0x7f));
        while (v >>= 7) b.insert(b.begin(), char(0x80 | (v & 0x7f)));
        track += b;
    }
    void event(uint32_t tick, std::initializer_list<int> bytes) {
        vlq(tick - last_tick);
        last_tick = tick;
        for (int b : bytes) track += char(b);
    }
    void tempo(uint32_t tick, uint32_t us_per_quarter) {
        event(tick, {0xff, 0x51, 0x03, int(us_per_quarter >> 16), int((us_per_quarter >> 8) & 0xff), int(us_per_quarter & 0xff)});
    }
    std::string bytes(int tpq) {
        event(last_tick, {0xff, 0x2f, 0x00});
        auto be = [](uint32_t v, int n) {
            std::string s;
            for (int i = n - 1; i >= 0; --i) s += char((v >> (8 * i)) & 0xff);
            return s;
        };
        return "MThd" + be(6, 4) + be(0, 2) + be(1, 2) + be(uint32_t(tpq), 2) + "MTrk" + be(uint32_t(track.size()), 4) + track;
    }
};

}  // namespace

TEST(FluidSynth, PerformanceOnsetsLineUpWithin20ms) {
    umt::Performance perf;
    std::vector<double> onsets{0.30, 0.80, 1.45, 2.00, 2.61};
    int pitches[] = {60, 64, 67, 72, 55};
    for (size_t i = 0; i < onsets.size(); ++i) perf.notes.push_back({onsets[i], onsets[i] + 0.15, pitches[i], 100, 0, 0});
    auto audio = umt::synth::render_fluidsynth(perf, small_font());
    EXPECT_EQ(audio.sample_rate_hz, 44100);
    expect_onsets_near(energy_onsets(audio), onsets, 0.020);
}

TEST(FluidSynth, MidiFileHonoursTheTempoMap) {
    // 480 ticks per quarter; 120 qpm for two beats, then 60 qpm: beats at 0, 0.5, 1.0, 2.0, 3.0 s.
    Smf smf;
    smf.tempo(0, 500000);
    smf.event(0, {0xc0, 0});
    uint32_t ticks[] = {0, 480, 960, 1440, 1920};
    for (uint32_t t : ticks) {
        if (t == 960) smf.tempo(960, 1000000);
        smf.event(t, {0x90, 67, 100});
        smf.event(t + 96, {0x80, 67, 0});
    }
    auto audio = umt::synth::render_fluidsynth_midi(smf.bytes(480), "tempo.mid", small_font());
    expect_onsets_near(energy_onsets(audio), {0.0, 0.5, 1.0, 2.0, 3.0}, 0.020);
}

TEST(FluidSynth, SustainPedalKeepsNotesSounding) {
    umt::Performance dry, pedalled;
    dry.notes.push_back({0.1, 0.2, 60, 100, 0, 0});
    pedalled = dry;
    pedalled.pedals.push_back({0.0, true, 0});
    pedalled.pedals.push_back({1.5, false, 0});
    auto o = small_font();
    o.reverb = false;
    umt::synth::FluidSynthRenderer r(o);
    auto a = r.render(dry);
    auto b = r.render(pedalled);
    // Without pedal the note is released at 0.2 s; with it, still sounding at 1.0 s.
    EXPECT_GT(rms(b, 0.9, 1.1), 10 * rms(a, 0.9, 1.1));
    EXPECT_GT(b.duration_s(), 1.5);
}

TEST(FluidSynth, TailIsRenderedUntilSilence) {
    umt::Performance perf;
    perf.notes.push_back({0.0, 0.5, 48, 110, 0, 0});
    auto audio = umt::synth::render_fluidsynth(perf, small_font());
    // The release and reverb go on after the note-off at 0.5 s, and the file ends quietly.
    EXPECT_GT(audio.duration_s(), 0.6);
    EXPECT_LT(audio.duration_s(), 12.0);
    EXPECT_GT(rms(audio, 0.5, 0.55), 1e-3);
    EXPECT_LT(rms(audio, audio.duration_s() - 0.01, audio.duration_s()), 1e-3);
}

TEST(FluidSynth, FreshRenderIsDeterministicAndReuseMatchesIt) {
    umt::Performance perf;
    perf.notes.push_back({0.0, 0.3, 60, 90, 0, 0});
    perf.notes.push_back({0.1, 0.4, 64, 90, 40, 1});  // violin on another channel
    auto o = small_font();
    auto a = umt::synth::render_fluidsynth(perf, o);
    auto b = umt::synth::render_fluidsynth(perf, o);
    EXPECT_EQ(a.samples, b.samples);
    // A reused renderer starts from a reset synth: same notes, same loudness (FluidSynth
    // keeps some filter/reverb state across a reset, so not bit-identical).
    umt::synth::FluidSynthRenderer r(o);
    r.render(perf);
    auto c = r.render(perf);
    EXPECT_NEAR(rms(c, 0.0, 0.5), rms(a, 0.0, 0.5), 0.05 * rms(a, 0.0, 0.5));
    expect_onsets_near(energy_onsets(c), energy_onsets(a), 0.006);
}

TEST(FluidSynth, ClearErrors) {
    auto o = small_font();
    umt::Performance empty;
    EXPECT_THROW(umt::synth::render_fluidsynth(empty, o), umt::Error);
    EXPECT_THROW(umt::synth::render_fluidsynth_midi("not midi at all", "x.mid", o), umt::Error);
    o.soundfont = "/nonexistent/font.sf2";
    try {
        umt::Performance p;
        p.notes.push_back({0, 1, 60, 80, 0, 0});
        umt::synth::render_fluidsynth(p, o);
        ADD_FAILURE() << "no error for a missing SoundFont";
    } catch (const umt::Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/font.sf2"), std::string::npos);
    }
}

TEST(FluidSynth, SoundFontSearchHonoursTheEnvironment) {
    ::setenv("UMT_SOUNDFONT", kSmallFont, 1);
    EXPECT_EQ(umt::synth::find_default_soundfont(), kSmallFont);
    ::setenv("UMT_SOUNDFONT", "/nonexistent.sf2", 1);
    EXPECT_THROW(umt::synth::find_default_soundfont(), umt::Error);
    ::unsetenv("UMT_SOUNDFONT");
    EXPECT_TRUE(fs::exists(umt::synth::find_default_soundfont()));
}

// The CLI end to end: a MIDI file to WAV and FLAC, and failures that leave no file.
TEST(SynthCli, RendersAndFailsCleanly) {
    fs::path dir = fs::temp_directory_path() / ("umt-synth-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    Smf smf;
    smf.tempo(0, 500000);
    smf.event(0, {0x90, 60, 100});
    smf.event(480, {0x80, 60, 0});
    {
        std::ofstream(dir / "a.mid", std::ios::binary) << smf.bytes(480);
        std::ofstream(dir / "bad.mid", std::ios::binary) << "MThd garbage that is not a midi file";
    }
    std::string exe = UMT_EXE;
    // No model bundle (an empty folder): the default engine is FluidSynth and --engine neural fails,
    // whatever bundle ships in models/default.
    fs::create_directories(dir / "no-bundle");
    std::string env = std::string("UMT_SOUNDFONT=") + kSmallFont + " UMT_MODELS=" + (dir / "no-bundle").string() + " ";
    auto run = [&](const std::string& args) { return std::system((env + exe + " -q synth " + args + " 2>/dev/null").c_str()); };
    EXPECT_EQ(run((dir / "a.mid").string() + " -o " + (dir / "a.wav").string()), 0);
    auto a = umt::read_audio((dir / "a.wav").string());
    EXPECT_EQ(a.sample_rate_hz, 44100);
    EXPECT_GT(a.duration_s(), 0.5);
    EXPECT_EQ(run((dir / "a.mid").string() + " -o " + (dir / "a.flac").string() + " --rate 22050 --bits 24"), 0);
    EXPECT_EQ(umt::probe_audio((dir / "a.flac").string()).sample_rate_hz, 22050);
    EXPECT_NE(run((dir / "bad.mid").string() + " -o " + (dir / "bad.wav").string()), 0);
    EXPECT_FALSE(fs::exists(dir / "bad.wav"));
    EXPECT_NE(run((dir / "a.mid").string() + " -o " + (dir / "n.wav").string() + " --engine neural"), 0);
    EXPECT_FALSE(fs::exists(dir / "n.wav"));
    EXPECT_NE(run((dir / "a.mid").string() + " -o " + (dir / "s.wav").string() + " --soundfont /nonexistent.sf2"), 0);
    EXPECT_FALSE(fs::exists(dir / "s.wav"));
    // A batch goes on past the bad file and reports the failure.
    EXPECT_NE(run((dir / "a.mid").string() + " " + (dir / "bad.mid").string() + " -o " + (dir / "out").string()), 0);
    EXPECT_TRUE(fs::exists(dir / "out" / "a.wav"));
    EXPECT_FALSE(fs::exists(dir / "out" / "bad.wav"));
    fs::remove_all(dir);
}
