// FluidSynth renderer: no audio driver, the synthesizer is pulled block by block
// so rendering runs as fast as the CPU allows.
#include "umt/synth/fluidsynth.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include <fluidsynth.h>
#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"

namespace umt::synth {

namespace fs = std::filesystem;

namespace {

void fluid_log_to_spdlog(int level, const char* message, void*) {
    if (level <= FLUID_ERR) spdlog::warn("fluidsynth: {}", message);
    else if (level == FLUID_WARN) spdlog::info("fluidsynth: {}", message);
    else spdlog::debug("fluidsynth: {}", message);
}

void route_fluid_logs_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        for (int lvl : {FLUID_PANIC, FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG})
            fluid_set_log_function(lvl, fluid_log_to_spdlog, nullptr);
    });
}

constexpr int kBlock = 64;         // FluidSynth's internal block: event timing granularity
constexpr int kMaxChannels = 256;  // synth channels available to (channel, program) pairs

}  // namespace

std::string find_default_soundfont() {
    if (const char* env = std::getenv("UMT_SOUNDFONT"); env && *env) {
        std::error_code ec;
        if (!fs::is_regular_file(env, ec)) throw Error(env, "UMT_SOUNDFONT names a SoundFont that does not exist");
        return env;
    }
    for (const char* p : {"/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
                          "/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/soundfonts/default.sf2"}) {
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return p;
    }
    throw Error("no SoundFont found: install fluid-soundfont-gm (apt-get install fluid-soundfont-gm), "
                "or pass --soundfont FILE.sf2, or set UMT_SOUNDFONT");
}

struct FluidSynthRenderer::Impl {
    fluid_settings_t* settings = nullptr;
    fluid_synth_t* synth = nullptr;
    std::string soundfont;
    bool used = false;
    std::vector<float> left, right;
    // A render starts from a synthesizer that has rendered nothing: a system reset leaves the
    // reverb and chorus lines ringing with the last file, so its output would depend on what
    // was rendered before it (and on how a batch is split between workers). The new synth is
    // made before the old one goes, so FluidSynth's sample cache keeps the SoundFont's samples
    // in memory and only the preset table is read again.
    void fresh() {
        if (!used) {
            used = true;
            return;
        }
        fluid_synth_t* next = new_fluid_synth(settings);
        if (!next) throw Error("fluidsynth: cannot create a synthesizer");
        if (fluid_synth_sfload(next, soundfont.c_str(), 1) == FLUID_FAILED) {
            delete_fluid_synth(next);
            throw Error(soundfont, "FluidSynth cannot load this SoundFont");
        }
        delete_fluid_synth(synth);
        synth = next;
    }
    ~Impl() {
        if (synth) delete_fluid_synth(synth);
        if (settings) delete_fluid_settings(settings);
    }
    // Renders n frames, appending their mono mix to out.
    void write(int n, std::vector<float>& out) {
        left.resize(size_t(n));
        right.resize(size_t(n));
        while (n > 0) {
            int k = std::min(n, 4096);
            std::fill(left.begin(), left.begin() + k, 0.f);
            std::fill(right.begin(), right.begin() + k, 0.f);
            fluid_synth_write_float(synth, k, left.data(), 0, 1, right.data(), 0, 1);
            for (int i = 0; i < k; ++i) out.push_back(0.5f * (left[size_t(i)] + right[size_t(i)]));
            n -= k;
        }
    }
    // Renders the release and reverb tail until silence (or the cap), then trims it.
    void render_tail(std::vector<float>& out, const FluidSynthOptions& o, size_t min_length) {
        const int chunk = std::max(1, o.sample_rate_hz / 20 / kBlock) * kBlock;  // ~50 ms, whole blocks
        const size_t cap = out.size() + size_t(o.max_tail_s * o.sample_rate_hz);
        while (out.size() < cap) {
            size_t start = out.size();
            write(chunk, out);
            float peak = 0.f;
            for (size_t i = start; i < out.size(); ++i) peak = std::max(peak, std::fabs(out[i]));
            if (fluid_synth_get_active_voice_count(synth) == 0 && peak < o.tail_threshold) break;
        }
        if (out.size() >= cap) spdlog::info("fluidsynth: tail still sounding after {:.1f} s; cut there", o.max_tail_s);
        size_t end = out.size();
        while (end > min_length && std::fabs(out[end - 1]) < o.tail_threshold) --end;
        out.resize(end);
    }
};

FluidSynthRenderer::FluidSynthRenderer(const FluidSynthOptions& opts) : impl_(new Impl), opts_(opts) {
    route_fluid_logs_once();
    if (opts_.soundfont.empty()) opts_.soundfont = find_default_soundfont();
    if (opts_.sample_rate_hz < 8000 || opts_.sample_rate_hz > 96000)
        throw Error("synth: sample rate must be within 8000..96000 Hz, got " + std::to_string(opts_.sample_rate_hz));
    if (!(opts_.gain > 0.f) || opts_.gain > 10.f)
        throw Error("synth: gain must be within (0, 10], got " + std::to_string(opts_.gain));
    std::error_code ec;
    if (!fs::is_regular_file(opts_.soundfont, ec)) throw Error(opts_.soundfont, "SoundFont not found");
    auto* s = impl_->settings = new_fluid_settings();
    if (!s) throw Error("fluidsynth: cannot create settings");
    fluid_settings_setnum(s, "synth.sample-rate", opts_.sample_rate_hz);
    fluid_settings_setnum(s, "synth.gain", opts_.gain);
    fluid_settings_setint(s, "synth.reverb.active", opts_.reverb ? 1 : 0);
    fluid_settings_setint(s, "synth.chorus.active", opts_.chorus ? 1 : 0);
    fluid_settings_setint(s, "synth.midi-channels", kMaxChannels);
    // Dense pedalled piano easily exceeds the default 256 voices; stolen voices click.
    fluid_settings_setint(s, "synth.polyphony", 1024);
    fluid_settings_setint(s, "synth.lock-memory", 0);
    fluid_settings_setint(s, "synth.threadsafe-api", 0);
    // The MIDI player must follow rendered samples, not the wall clock.
    fluid_settings_setstr(s, "player.timing-source", "sample");
    impl_->synth = new_fluid_synth(s);
    if (!impl_->synth) throw Error("fluidsynth: cannot create a synthesizer");
    if (fluid_synth_sfload(impl_->synth, opts_.soundfont.c_str(), 1) == FLUID_FAILED)
        throw Error(opts_.soundfont, "FluidSynth cannot load this SoundFont");
    impl_->soundfont = opts_.soundfont;
}

FluidSynthRenderer::~FluidSynthRenderer() = default;

namespace {

// Wraps rendered samples; a peak above full scale is scaled down, never clipped.
Audio finished_audio(std::vector<float> samples, int sample_rate_hz, const std::string& what) {
    Audio audio;
    audio.sample_rate_hz = sample_rate_hz;
    audio.samples = std::move(samples);
    float peak = 0.f;
    for (float v : audio.samples) peak = std::max(peak, std::fabs(v));
    if (peak > 0.999f) {
        float scale = 0.999f / peak;
        for (float& v : audio.samples) v *= scale;
        spdlog::info("{}: peak {:.2f} above full scale; scaled by {:.3f} instead of clipping", what, peak, scale);
    }
    return audio;
}

}  // namespace

Audio FluidSynthRenderer::render(const Performance& perf) {
    if (perf.notes.empty()) throw Error("synth: the performance has no notes to render");
    impl_->fresh();
    fluid_synth_t* synth = impl_->synth;
    fluid_synth_system_reset(synth);
    const double sr = opts_.sample_rate_hz;

    // Synth channel per (source channel, program); drums stay on channel 9, whose
    // bank FluidSynth reserves for percussion.
    std::map<std::pair<int, int>, int> synth_channel;
    std::map<int, std::vector<int>> channels_of_source;  // for pedal events
    int next = 0;
    auto channel_for = [&](int src, int program) {
        if (src == 9) return 9;
        auto key = std::make_pair(src, program);
        auto it = synth_channel.find(key);
        if (it != synth_channel.end()) return it->second;
        if (next == 9) ++next;
        if (next % 16 == 9) ++next;
        if (next >= kMaxChannels) throw Error("synth: more than 240 (channel, program) pairs in one performance");
        int ch = next++;
        synth_channel[key] = ch;
        channels_of_source[src].push_back(ch);
        fluid_synth_program_change(synth, ch, std::clamp(program, 0, 127));
        return ch;
    };

    // Events as (sample, order, kind, channel, key, value); offs sort before ons at
    // one instant so a repeated key restrikes instead of being cut. Times are rounded to
    // whole 64-sample blocks: FluidSynth applies events at block starts anyway, and
    // writing whole blocks keeps its internal buffer aligned, so a renderer gives the
    // same samples for the same performance every time.
    enum Kind { kPedal = 0, kOff = 1, kOn = 2 };
    struct Ev { int64_t sample; int kind; int ch; int key; int value; };
    auto to_block = [&](double t) { return int64_t(std::llround(std::max(0.0, t) * sr / kBlock)) * kBlock; };
    std::vector<Ev> evs;
    evs.reserve(perf.notes.size() * 2 + perf.pedals.size());
    for (const auto& n : perf.notes) {
        if (n.pitch < 0 || n.pitch > 127) continue;
        int ch = channel_for(n.channel, n.program);
        int64_t on = to_block(n.onset_s);
        int64_t off = std::max(on + kBlock, to_block(std::max(n.offset_s, n.onset_s)));
        evs.push_back({on, kOn, ch, n.pitch, std::clamp(n.velocity, 1, 127)});
        evs.push_back({off, kOff, ch, n.pitch, 0});
    }
    for (const auto& p : perf.pedals) {
        int64_t t = to_block(p.time_s);
        auto it = channels_of_source.find(p.channel);
        if (it == channels_of_source.end()) continue;
        for (int ch : it->second) evs.push_back({t, kPedal, ch, 64, p.down ? 127 : 0});
    }
    // Pedal changes at the same instant as notes come first: a pedal lifted and
    // pressed again at a note's onset (legato pedalling) must catch that note.
    std::stable_sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) {
        return std::tie(a.sample, a.kind) < std::tie(b.sample, b.kind);
    });

    std::vector<float> out;
    out.reserve(size_t((perf.end_s() + 2.0) * sr));
    // Overlapping notes of one key on one channel: FluidSynth's note-off releases
    // every voice of the key, so only the last overlapping note's end sends it.
    std::map<std::pair<int, int>, int> sounding;
    for (const auto& e : evs) {
        if (e.sample > int64_t(out.size())) impl_->write(int(e.sample - int64_t(out.size())), out);
        switch (e.kind) {
            case kPedal: fluid_synth_cc(synth, e.ch, 64, e.value); break;
            case kOn:
                ++sounding[{e.ch, e.key}];
                fluid_synth_noteon(synth, e.ch, e.key, e.value);
                break;
            case kOff:
                if (--sounding[{e.ch, e.key}] <= 0) {
                    sounding.erase({e.ch, e.key});
                    fluid_synth_noteoff(synth, e.ch, e.key);
                }
                break;
        }
    }
    // Release a pedal still held at the end so the tail can decay.
    for (const auto& [src, chs] : channels_of_source)
        for (int ch : chs) fluid_synth_cc(synth, ch, 64, 0);
    size_t notes_end = out.size();
    impl_->render_tail(out, opts_, notes_end);

    return finished_audio(std::move(out), opts_.sample_rate_hz, "synth");
}

namespace {

struct PlayerCount {
    fluid_synth_t* synth;
    long note_ons = 0;
};

int count_and_forward(void* data, fluid_midi_event_t* event) {
    auto* pc = static_cast<PlayerCount*>(data);
    if (fluid_midi_event_get_type(event) == 0x90 && fluid_midi_event_get_velocity(event) > 0) ++pc->note_ons;
    return fluid_synth_handle_midi_event(pc->synth, event);
}

}  // namespace

Audio FluidSynthRenderer::render_midi(const std::string& smf_bytes, const std::string& source) {
    // FluidSynth's player skips unreadable files silently; check the framing first so
    // a damaged file gets an error, not an empty render.
    if (smf_bytes.size() < 14 || smf_bytes.compare(0, 4, "MThd") != 0)
        throw Error(source, "not a Standard MIDI File (no MThd header)");
    if (smf_bytes.find("MTrk", 14) == std::string::npos) throw Error(source, "MIDI file has no track (MTrk) chunk");
    impl_->fresh();
    fluid_synth_t* synth = impl_->synth;
    fluid_synth_system_reset(synth);
    fluid_player_t* player = new_fluid_player(synth);
    if (!player) throw Error("fluidsynth: cannot create a MIDI player");
    PlayerCount pc{synth};
    fluid_player_set_playback_callback(player, count_and_forward, &pc);
    std::vector<float> out;
    try {
        if (fluid_player_add_mem(player, smf_bytes.data(), smf_bytes.size()) != FLUID_OK)
            throw Error(source, "FluidSynth cannot queue this MIDI file");
        if (fluid_player_play(player) != FLUID_OK) throw Error(source, "FluidSynth cannot play this MIDI file");
        // One block per call keeps the player's event timing at block precision.
        const size_t cap = size_t(6.0 * 3600 * opts_.sample_rate_hz);
        while (fluid_player_get_status(player) == FLUID_PLAYER_PLAYING) {
            impl_->write(kBlock, out);
            if (out.size() > cap) throw Error(source, "MIDI file plays longer than 6 hours");
        }
        fluid_player_stop(player);
    } catch (...) {
        delete_fluid_player(player);
        throw;
    }
    delete_fluid_player(player);
    if (pc.note_ons == 0) throw Error(source, "MIDI file has no notes to render (or FluidSynth could not parse it)");
    for (int ch = 0; ch < 16; ++ch) fluid_synth_cc(synth, ch, 64, 0);
    impl_->render_tail(out, opts_, out.size());
    return finished_audio(std::move(out), opts_.sample_rate_hz, "synth: " + source);
}

Audio render_fluidsynth(const Performance& perf, const FluidSynthOptions& opts) {
    FluidSynthRenderer r(opts);
    return r.render(perf);
}

Audio render_fluidsynth_midi(const std::string& smf_bytes, const std::string& source, const FluidSynthOptions& opts) {
    FluidSynthRenderer r(opts);
    return r.render_midi(smf_bytes, source);
}

}  // namespace umt::synth
