// umt omr / amt / engrave / synth / i2a / a2i: the neural translations through the model bundle,
// one subcommand per entry of the task table, and their staged alternatives (MuseScore engraving,
// FluidSynth synthesis, OMR -> playback -> synthesis, AMT -> quantize -> engrave).
#include <memory>
#include <mutex>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "task_command.hpp"
#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/core/playback.hpp"
#include "umt/core/quantize.hpp"
#include "umt/io/audio.hpp"
#include "umt/io/image.hpp"
#include "umt/io/midi.hpp"
#include "umt/io/musicxml.hpp"
#include "umt/io/notation_file.hpp"
#include "umt/layout/systems.hpp"
#include "umt/synth/fluidsynth.hpp"
#include "umt/synth/musescore.hpp"
#include "umt/tasks/tasks.hpp"

namespace umt::cli {

namespace {

using tasks::Task;

struct TaskArgs {
    std::vector<std::string> inputs;
    std::string output;
    std::string format;
    std::string pipeline = "direct";
    std::string engine;        // engrave / a2i staged: neural or musescore; synth, i2a staged: fluidsynth or neural
    int measures = 4;          // engrave: measures per system when the score has no system breaks
    int systems_per_call = 2;  // i2a direct
    bool one_part = false;     // omr: each system whole, without splitting it into staff groups
    // amt: how the A2I is read; empty / 0 = the bundle's default (tasks::transcribe_defaults)
    std::string decoder;
    double onset_threshold = 0.0;
    double frame_threshold = 0.0;
    // synth
    std::string soundfont;
    int rate_hz = 44100;
    float gain = 0.5f;
    int bits = 16;
    bool no_reverb = false;
    tasks::SynthOptions neural;
    CLI::Option* rate_opt = nullptr;
    TaskFlags flags;
    BatchFlags batch;
};

const std::vector<std::string> kNotationExts{"musicxml", "xml", "mxl", "lmx"};
const std::vector<std::string> kMidiExts{"mid", "midi", "smf"};
// What each kind of output may be named (the writers choose the format by the extension).
const std::vector<std::string> kScoreOutExts{"musicxml", "xml", "mxl", "lmx"};
const std::vector<std::string> kMidiOutExts{"mid", "midi"};
const std::vector<std::string> kImageOutExts{"png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"};

// FluidSynth renderers are not shared between threads: one per --jobs worker, the SoundFont
// loaded by each the first time it is needed.
class RendererPool {
public:
    explicit RendererPool(synth::FluidSynthOptions opts = {}) : opts_(std::move(opts)) {}
    template <typename Fn>
    auto with(Fn fn) {
        std::unique_ptr<synth::FluidSynthRenderer> r;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!free_.empty()) {
                r = std::move(free_.back());
                free_.pop_back();
            }
        }
        if (!r) r = std::make_unique<synth::FluidSynthRenderer>(opts_);
        struct Back {
            RendererPool* pool;
            std::unique_ptr<synth::FluidSynthRenderer>& r;
            ~Back() {
                std::lock_guard<std::mutex> lock(pool->mu_);
                pool->free_.push_back(std::move(r));
            }
        } back{this, r};
        return fn(*r);
    }
    // The first renderer, made now: a bad SoundFont is a usage problem found before any job.
    void warm() {
        auto r = std::make_unique<synth::FluidSynthRenderer>(opts_);
        spdlog::info("synth: SoundFont {}", r->options().soundfont);
        std::lock_guard<std::mutex> lock(mu_);
        free_.push_back(std::move(r));
    }

private:
    synth::FluidSynthOptions opts_;
    std::mutex mu_;
    std::vector<std::unique_ptr<synth::FluidSynthRenderer>> free_;
};

// The bundle a task needs: the installed one, or an error saying what to pass.
std::function<std::unique_ptr<model::ModelBundle>(Timings*)> required_bundle(const GlobalOptions& g,
                                                                               const std::string& verb) {
    return [&g, verb](Timings* load) {
        StageTimer timer(load, "load");
        auto b = open_bundle(g, "umt " + verb);
        spdlog::info("{}: model bundle {} ({})", verb, b->dir(), b->config().name);
        return b;
    };
}

// Garbage in the model's LMX is expected while models are young: a few lines at -v, all at -vv.
void log_lmx_warnings(const std::string& source, const std::vector<std::string>& warnings) {
    constexpr size_t kShown = 10;
    for (size_t i = 0; i < warnings.size(); ++i) {
        if (i < kShown) spdlog::info("{}: LMX: {}", source, warnings[i]);
        else spdlog::debug("{}: LMX: {}", source, warnings[i]);
    }
    if (warnings.size() > kShown)
        spdlog::info("{}: LMX: {} more warnings (-vv shows them)", source, warnings.size() - kShown);
}

void write_page(const cv::Mat& page, const std::string& path, Timings* t) {
    StageTimer timer(t, "write");
    write_image(page, path);
}

Audio read_audio_timed(const std::string& path, Timings* t) {
    StageTimer timer(t, "read");
    return read_audio(path);
}

tasks::OmrResult run_omr(model::ModelBundle& bundle, const std::string& input, const tasks::DecodeSettings& s,
                         Timings* t, bool one_part = false) {
    if (one_part) {
        auto whole = tasks::read_systems(bundle, input, t);
        spdlog::info("omr: {}: {} system(s), read whole", input, whole.size());
        auto r = tasks::recognize(bundle, whole, s, t);
        log_lmx_warnings(input, r.warnings);
        return r;
    }
    auto systems = tasks::read_staff_groups(bundle, input, t);
    size_t groups = 0;
    for (const auto& sys : systems) groups += sys.size();
    spdlog::info("omr: {}: {} system(s), {} staff group(s)", input, systems.size(), groups);
    auto r = tasks::recognize_parts(bundle, systems, s, t);
    log_lmx_warnings(input, r.warnings);
    return r;
}

// ---- each task's flags and job ----

void add_omr(CLI::App* sub, TaskArgs& a) {
    a.format = "musicxml";
    sub->add_option("inputs", a.inputs, "Page images, system images or PDFs, or folders");
    sub->add_option("-o,--output", a.output, "Output .musicxml/.mxl/.lmx ('-' = stdout), or a folder")->required();
    sub->add_option("--format", a.format, "Output format for folder output")->check(CLI::IsMember({"musicxml", "mxl", "lmx"}));
    sub->add_flag("--one-part", a.one_part,
                  "Read each system whole as one part (default: one part per staff group, e.g. voice and piano)");
}

int run_omr_task(TaskArgs& a, const GlobalOptions& g) {
    TaskRun run{"omr", &a.flags, a.inputs, a.output, image_read_extensions(), a.format, kScoreOutExts, &a.batch,
                required_bundle(g, "omr"), {}};
    run.pooled = true;
    run.run_job = [&a](model::ModelBundle* bundle, const tasks::DecodeSettings& s, const Job& job, Timings& t) {
        auto r = run_omr(*bundle, job.input, s, &t, a.one_part);
        StageTimer timer(&t, "write");
        // LMX is the lowest part's: the piano of a voice-and-piano page.
        if (extension_of(job.output) == "lmx") write_lmx_file(r.part_system_lmx.back(), job.output);
        else save_score(r.score, job.output);
    };
    return run_task(run, g);
}

void add_amt(CLI::App* sub, TaskArgs& a) {
    sub->add_option("inputs", a.inputs, "Audio files (wav flac ogg ...) or folders");
    sub->add_option("-o,--output", a.output, "Output .mid, or a folder")->required();
    sub->add_option("--decoder", a.decoder,
                    "frames: the A2I's onsets-and-frames head; tokens: the decoding loop (default: the bundle's)")
        ->check(CLI::IsMember({"frames", "tokens"}));
    sub->add_option("--onset-threshold", a.onset_threshold,
                    "frames: onset probability that starts a note (default: the bundle's)")
        ->check(CLI::Range(0.01, 0.99));
    sub->add_option("--frame-threshold", a.frame_threshold,
                    "frames: probability that keeps a key sounding (default: the bundle's)")
        ->check(CLI::Range(0.01, 0.99));
}

// The bundle's transcription defaults under the user's --decoder and thresholds.
tasks::TranscribeOptions transcribe_options(const TaskArgs& a, const model::ModelBundle& bundle) {
    auto how = tasks::transcribe_defaults(bundle);
    if (!a.decoder.empty()) how.decoder = a.decoder;
    if (a.onset_threshold > 0) how.onset_threshold = a.onset_threshold;
    if (a.frame_threshold > 0) how.frame_threshold = a.frame_threshold;
    return how;
}

int run_amt_task(TaskArgs& a, const GlobalOptions& g) {
    TaskRun run{"amt", &a.flags, a.inputs, a.output, audio_read_extensions(), "mid", kMidiOutExts, &a.batch,
                required_bundle(g, "amt"), {}};
    run.run_job = [&a](model::ModelBundle* bundle, const tasks::DecodeSettings& s, const Job& job, Timings& t) {
        const auto how = transcribe_options(a, *bundle);
        Audio audio = read_audio_timed(job.input, &t);
        Performance perf = tasks::transcribe(*bundle, audio, s, &t, &how);
        {
            StageTimer timer(&t, "write");
            save_midi(perf, job.output);
        }
        spdlog::info("amt: {}: {:.1f} s of audio -> {} notes", job.input, audio.duration_s(), perf.notes.size());
    };
    return run_task(run, g);
}

void add_engrave(CLI::App* sub, TaskArgs& a) {
    sub->add_option("inputs", a.inputs, "MusicXML (.musicxml .xml .mxl) or LMX files, or folders");
    sub->add_option("-o,--output", a.output, "Output .png, or a folder")->required();
    sub->add_option("--engine", a.engine, "neural (the model bundle; the default when it can engrave) or musescore (MuseScore 3)")
        ->check(CLI::IsMember({"neural", "musescore"}));
    sub->add_option("--measures", a.measures, "Measures per system when the score has no system breaks")
        ->check(CLI::Range(1, 64));
}

int run_engrave_task(TaskArgs& a, const GlobalOptions& g) {
    TaskRun run{"engrave", &a.flags, a.inputs, a.output, kNotationExts, "png", kImageOutExts, &a.batch, {}, {}};
    run.open = [&a, &g](Timings* load) -> std::unique_ptr<model::ModelBundle> {
        if (a.engine == "musescore") return nullptr;
        StageTimer timer(load, "load");
        auto bundle = a.engine == "neural" ? required_bundle(g, "engrave")(nullptr)
                                           : open_capable_bundle(g, tasks::task_spec(Task::Engrave));
        if (!bundle)
            throw umt::Error("umt engrave: no model bundle that can engrave is installed (looked in " +
                             resolve_models_dir(g) + "); use --engine musescore, or pass --models DIR");
        return bundle;
    };
    run.run_job = [&a](model::ModelBundle* bundle, const tasks::DecodeSettings& s, const Job& job, Timings& t) {
        std::vector<std::vector<std::string>> chunks;
        std::vector<std::string> warnings;
        Score score;
        {
            StageTimer timer(&t, "read");
            score = read_notation(job.input, bundle ? &chunks : nullptr, &warnings);
            log_lmx_warnings(job.input, warnings);
        }
        cv::Mat page;
        if (bundle) {
            if (chunks.empty()) chunks = tasks::engrave_chunks(score, a.measures);
            page = layout::stack_page(tasks::engrave(*bundle, chunks, s, &t));
        } else {
            page = synth::engrave_musescore(score, &t);
        }
        write_page(page, job.output, &t);
    };
    return run_task(run, g);
}

void add_synth(CLI::App* sub, TaskArgs& a) {
    a.format = "wav";
    sub->add_option("inputs", a.inputs, "MIDI files or folders (.mid, .midi)");
    sub->add_option("-o,--output", a.output, "Output audio file (.wav/.flac/.ogg/.mp3, '-' = WAV on stdout), or a folder for several inputs")->required();
    sub->add_option("--engine", a.engine,
                    "Synthesis engine: neural (the model bundle; the default when it can synthesize) or fluidsynth")
        ->check(CLI::IsMember({"fluidsynth", "neural"}));
    sub->add_option("--soundfont", a.soundfont, "SoundFont (.sf2) for fluidsynth (default: $UMT_SOUNDFONT, then FluidR3_GM, TimGM6mb, default-GM)");
    a.rate_opt = sub->add_option("--rate", a.rate_hz, "Output sample rate in Hz (fluidsynth default 44100; neural: the codec's rate)")
                     ->check(CLI::Range(8000, 96000));
    sub->add_option("--gain", a.gain, "FluidSynth master gain")->check(CLI::Range(0.001, 10.0));
    sub->add_option("--bits", a.bits, "PCM bit depth: 16, 24, or 32 (float WAV)")->check(CLI::IsMember({16, 24, 32}));
    sub->add_option("--format", a.format, "Output format for folder output: wav, flac, ogg (mp3 where libsndfile encodes it)")
        ->check(CLI::IsMember(audio_write_extensions()));
    sub->add_flag("--no-reverb", a.no_reverb, "Render without FluidSynth's reverb");
    sub->add_option("--window", a.neural.window_s, "Neural: seconds of MIDI per decoded window (at most 10)")
        ->check(CLI::Range(0.5, 10.0));
    sub->add_option("--prime", a.neural.prime_s, "Neural: seconds of the last window's codes each window continues (0 = independent, batched windows)")
        ->check(CLI::Range(0.0, 5.0));
}

// FluidSynth renders the MIDI file itself, so every controller and pitch bend is honoured, not
// only what Performance keeps; it needs no decoding settings.
int run_fluidsynth(TaskArgs& a, const GlobalOptions& g) {
    BatchSpec spec;
    spec.verb = "synth";
    spec.inputs = a.inputs;
    spec.output = a.output;
    spec.input_exts = kMidiExts;
    spec.output_exts = audio_write_extensions();
    spec.out_ext = a.format;
    auto plan = plan_batch(spec, a.batch);
    synth::FluidSynthOptions opts;
    opts.soundfont = a.soundfont;
    opts.sample_rate_hz = a.rate_hz;
    opts.gain = a.gain;
    opts.reverb = !a.no_reverb;
    // One renderer per worker for the whole batch: each SoundFont loads once.
    RendererPool renderers(opts);
    renderers.warm();
    AudioWriteOptions wopts;
    wopts.bits = a.bits;
    return run_batch(plan, a.batch, g, "synth", [&](const Job& job, JobContext& ctx) {
        std::string bytes;
        Performance perf;
        {
            StageTimer timer(&ctx.timings, "read");
            bytes = read_file(job.input);
            // parse_midi gives a precise error for a damaged file; FluidSynth's player would skip it silently.
            perf = parse_midi(bytes, job.input);
        }
        if (perf.notes.empty()) throw umt::Error(job.input, "MIDI file has no notes to render");
        Audio audio;
        {
            StageTimer timer(&ctx.timings, "synth");
            audio = renderers.with([&](synth::FluidSynthRenderer& r) { return r.render_midi(bytes, job.input); });
        }
        {
            StageTimer timer(&ctx.timings, "write");
            write_audio(audio, job.output, wopts);
        }
        spdlog::info("synth: {} -> {} ({:.1f} s)", job.input, job.output, audio.duration_s());
    });
}

int run_synth_task(TaskArgs& a, const GlobalOptions& g) {
    std::unique_ptr<model::ModelBundle> bundle;
    if (a.engine == "neural") {
        bundle = open_bundle(g, "umt synth --engine neural", "use --engine fluidsynth");
    } else if (a.engine.empty()) {
        bundle = open_capable_bundle(g, tasks::task_spec(Task::Synth));
        if (!bundle)
            spdlog::info("synth: no model bundle that can synthesize (looked in {}); using fluidsynth", resolve_models_dir(g));
    }
    if (!bundle) return run_fluidsynth(a, g);
    TaskRun run{"synth", &a.flags, a.inputs, a.output, kMidiExts, a.format, audio_write_extensions(), &a.batch, {}, {}};
    run.open = [&bundle](Timings*) { return std::move(bundle); };
    AudioWriteOptions wopts;
    wopts.bits = a.bits;
    if (a.rate_opt->count()) wopts.sample_rate_hz = a.rate_hz;
    run.run_job = [&a, wopts](model::ModelBundle* b, const tasks::DecodeSettings& s, const Job& job, Timings& t) {
        Performance perf;
        {
            StageTimer timer(&t, "read");
            perf = read_midi(job.input);
        }
        if (perf.notes.empty()) throw umt::Error(job.input, "MIDI file has no notes to render");
        Audio audio = tasks::synthesize(*b, perf, s, a.neural, &t);
        {
            StageTimer timer(&t, "write");
            write_audio(audio, job.output, wopts);
        }
        spdlog::info("synth: {} -> {} ({:.1f} s, neural): {}", job.input, job.output, audio.duration_s(), t.summary());
    };
    run.log_timings = false;
    return run_task(run, g);
}

void add_i2a(CLI::App* sub, TaskArgs& a) {
    sub->add_option("inputs", a.inputs, "Page images, system images or PDFs, or folders");
    sub->add_option("-o,--output", a.output, "Output .wav/.flac/.ogg/.mp3, or a folder")->required();
    sub->add_option("--pipeline", a.pipeline, "direct (image tokens -> audio tokens; plays each system's lowest staff group, the piano) or staged (OMR of every part -> playback -> synth)")
        ->check(CLI::IsMember({"direct", "staged"}));
    sub->add_option("--engine", a.engine, "Synthesis of the staged pipeline: fluidsynth (default) or neural")
        ->check(CLI::IsMember({"fluidsynth", "neural"}));
    sub->add_option("--systems-per-call", a.systems_per_call, "Systems decoded together into one audio sequence (direct)")
        ->check(CLI::Range(1, 2));
}

int run_i2a_task(TaskArgs& a, const GlobalOptions& g) {
    auto renderer = std::make_shared<std::unique_ptr<RendererPool>>();
    TaskRun run{"i2a", &a.flags, a.inputs, a.output, image_read_extensions(), "wav", audio_write_extensions(), &a.batch, {}, {}};
    run.open = [&a, &g, renderer](Timings* load) {
        auto bundle = required_bundle(g, "i2a")(load);
        if (a.pipeline == "staged" && a.engine != "neural") {
            *renderer = std::make_unique<RendererPool>();
            (*renderer)->warm();
        }
        return bundle;
    };
    run.run_job = [&a, renderer](model::ModelBundle* bundle, const tasks::DecodeSettings& s, const Job& job, Timings& t) {
        Audio audio;
        if (a.pipeline == "direct") {
            // The lowest staff group of each system: the piano of a voice-and-piano page,
            // what the translator learnt to play (staged plays every part).
            std::vector<cv::Mat> systems;
            for (const auto& groups : tasks::read_staff_groups(*bundle, job.input, &t)) systems.push_back(groups.back().image);
            audio = tasks::image_to_audio(*bundle, systems, s, a.systems_per_call, &t);
        } else {
            auto r = run_omr(*bundle, job.input, s, &t);
            Performance perf = render_score(r.score);
            if (perf.notes.empty()) throw umt::Error(job.input, "the recognized score has no notes to play");
            if (*renderer) {
                StageTimer timer(&t, "synth");
                audio = (*renderer)->with([&](synth::FluidSynthRenderer& r) { return r.render(perf); });
            } else {
                audio = tasks::synthesize(*bundle, perf, s, {}, &t);
            }
        }
        StageTimer timer(&t, "write");
        write_audio(audio, job.output);
    };
    return run_task(run, g);
}

void add_a2i(CLI::App* sub, TaskArgs& a) {
    sub->add_option("inputs", a.inputs, "Audio files or folders");
    sub->add_option("-o,--output", a.output, "Output .png, or a folder")->required();
    sub->add_option("--pipeline", a.pipeline, "direct (audio tokens -> image tokens) or staged (AMT -> quantize -> engrave)")
        ->check(CLI::IsMember({"direct", "staged"}));
    sub->add_option("--engine", a.engine, "Engraving of the staged pipeline: neural (default) or musescore")
        ->check(CLI::IsMember({"neural", "musescore"}));
    sub->add_option("--measures", a.measures, "Measures per system (staged, neural engraving)")->check(CLI::Range(1, 64));
}

int run_a2i_task(TaskArgs& a, const GlobalOptions& g) {
    TaskRun run{"a2i", &a.flags, a.inputs, a.output, audio_read_extensions(), "png", kImageOutExts, &a.batch,
                required_bundle(g, "a2i"), {}};
    run.run_job = [&a](model::ModelBundle* bundle, const tasks::DecodeSettings& s, const Job& job, Timings& t) {
        Audio audio = read_audio_timed(job.input, &t);
        cv::Mat page;
        if (a.pipeline == "direct") {
            page = layout::stack_page(tasks::audio_to_image(*bundle, audio, s, &t));
        } else {
            Performance perf = tasks::transcribe(*bundle, audio, s, &t);
            if (perf.notes.empty()) throw umt::Error(job.input, "transcription found no notes to engrave");
            Score score;
            {
                StageTimer timer(&t, "quantize");
                score = quantize_performance(perf);
            }
            if (a.engine == "musescore") page = synth::engrave_musescore(score, &t);
            else page = layout::stack_page(tasks::engrave(*bundle, tasks::engrave_chunks(score, a.measures), s, &t));
        }
        write_page(page, job.output, &t);
    };
    return run_task(run, g);
}

// The subcommand of each task of the task table.
struct TaskCommand {
    Task task;
    const char* help;
    void (*add)(CLI::App* sub, TaskArgs& a);
    int (*run)(TaskArgs& a, const GlobalOptions& g);
};

const TaskCommand kCommands[] = {
    {Task::Omr, "Optical music recognition: score image/PDF -> MusicXML or LMX", add_omr, run_omr_task},
    {Task::Amt, "Automatic music transcription: audio -> MIDI", add_amt, run_amt_task},
    {Task::Engrave, "Engraving: MusicXML/LMX -> score image (PNG)", add_engrave, run_engrave_task},
    {Task::Synth, "Render MIDI files to audio (neural model bundle, or FluidSynth with a SoundFont)", add_synth, run_synth_task},
    {Task::ImageToAudio, "Score image -> performance audio", add_i2a, run_i2a_task},
    {Task::AudioToImage, "Performance audio -> score image (PNG)", add_a2i, run_a2i_task},
};

const TaskCommand& command_of(Task task) {
    for (const auto& c : kCommands)
        if (c.task == task) return c;
    throw umt::Error("internal: a task without a subcommand");
}

}  // namespace

void register_model_tasks(CLI::App& app, GlobalOptions& g, int& rc) {
    for (const auto& spec : tasks::task_table()) {
        const auto& command = command_of(spec.task);
        auto a = std::make_shared<TaskArgs>();
        auto* sub = app.add_subcommand(spec.name, command.help);
        sub->fallthrough();  // umt omr --models DIR ... as well as umt --models DIR omr ...
        command.add(sub, *a);
        add_task_flags(sub, a->flags);
        add_batch_flags(sub, a->batch);
        sub->callback([a, &g, &rc, run = command.run] { rc = run(*a, g); });
    }
}

}  // namespace umt::cli
