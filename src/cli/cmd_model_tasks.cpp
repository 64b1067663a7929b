// umt omr / amt / engrave / i2a / a2i: the neural translations through the model bundle, and their
// staged alternatives (MuseScore engraving, OMR -> playback -> synthesis, AMT -> quantize -> engrave).
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "task_flags.hpp"
#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/core/playback.hpp"
#include "umt/core/quantize.hpp"
#include "umt/io/audio.hpp"
#include "umt/io/image.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/midi.hpp"
#include "umt/io/musicxml.hpp"
#include "umt/model/bundle.hpp"
#include "umt/synth/fluidsynth.hpp"
#include "umt/tasks/tasks.hpp"

namespace umt::cli {

namespace fs = std::filesystem;

namespace {

struct TaskArgs {
    std::vector<std::string> inputs;
    std::string output;
    std::string format;
    std::string pipeline = "direct";
    std::string engine;        // engrave / a2i staged: neural or musescore; i2a staged: fluidsynth or neural
    int measures = 4;          // engrave: measures per system when the score has no system breaks
    int systems_per_call = 2;  // i2a direct
    bool one_part = false;     // omr: each system whole, without splitting it into staff groups
    TaskFlags flags;
};

std::string bundle_dir_or_throw(const GlobalOptions& g, const std::string& verb) {
    std::string dir = resolve_models_dir(g);
    if (!fs::exists(fs::path(dir) / "manifest.json"))
        throw umt::Error("umt " + verb + ": no model bundle installed (looked in " + dir + "); pass --models DIR or set UMT_MODELS");
    return dir;
}

// Loads and verifies the bundle once per run (hashes, vocabulary); modules load on first use.
std::unique_ptr<model::ModelBundle> load_bundle(const GlobalOptions& g, const std::string& verb, tasks::Timings* t) {
    tasks::StageTimer timer(t, "load");
    auto b = std::make_unique<model::ModelBundle>(bundle_dir_or_throw(g, verb));
    spdlog::info("{}: model bundle {} ({})", verb, b->dir(), b->manifest().value("name", "?"));
    return b;
}

// A bundle that can run `task`, or null (with the reason logged) when none is installed or usable.
std::unique_ptr<model::ModelBundle> capable_bundle(const GlobalOptions& g, const std::string& task) {
    std::string dir = resolve_models_dir(g);
    if (!fs::exists(fs::path(dir) / "manifest.json")) return nullptr;
    try {
        auto b = std::make_unique<model::ModelBundle>(dir);
        if (tasks::bundle_supports(*b, task)) return b;
        spdlog::info("{}: the model bundle in {} has no {} model", task, dir, task);
    } catch (const std::exception& e) {
        spdlog::warn("{}: the model bundle cannot be used: {}", task, e.what());
    }
    return nullptr;
}

void log_timings(const std::string& verb, const Job& job, const tasks::Timings& t) {
    spdlog::info("{}: {} -> {}: {}", verb, job.input, job.output, t.summary());
}

void write_lmx(const std::vector<std::vector<std::string>>& systems, const std::string& path) {
    std::string text;
    for (const auto& s : systems) text += lmx::join(s) + "\n";
    write_file_atomic(path, text);
}

void log_lmx_warnings(const std::string& source, const std::vector<std::string>& warnings);

// A score from MusicXML, or from LMX text (one system per line when it has several lines).
Score read_notation(const std::string& path, std::vector<std::vector<std::string>>* lmx_systems) {
    if (extension_of(path) != "lmx") return read_score(path);
    std::string text = read_file(path);
    std::vector<std::string> all;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        auto tokens = lmx::tokenize(text.substr(start, end - start));
        if (!tokens.empty()) {
            if (lmx_systems) lmx_systems->push_back(tokens);
            all.insert(all.end(), tokens.begin(), tokens.end());
        }
        start = end + 1;
    }
    if (all.empty()) throw umt::Error(path, "the LMX file has no tokens");
    if (lmx_systems && lmx_systems->size() < 2) lmx_systems->clear();  // one line: chunk by measures
    std::vector<std::string> warnings;
    Score score = lmx::delinearize_score(all, &warnings);
    log_lmx_warnings(path, warnings);
    return score;
}

void write_page(const cv::Mat& page, const std::string& path, tasks::Timings* t) {
    tasks::StageTimer timer(t, "write");
    write_image(page, path);
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

tasks::OmrResult run_omr(model::ModelBundle& bundle, const std::string& input, const tasks::DecodeSettings& s,
                         tasks::Timings* t, bool one_part = false) {
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

}  // namespace

void register_model_tasks(CLI::App& app, GlobalOptions& g, int& rc) {
    const auto notation_exts = std::vector<std::string>{"musicxml", "xml", "mxl", "lmx"};

    // ---- omr ----
    {
        auto a = std::make_shared<TaskArgs>();
        a->format = "musicxml";
        auto* sub = app.add_subcommand("omr", "Optical music recognition: score image/PDF -> MusicXML or LMX");
        sub->fallthrough();  // umt omr --models DIR ... as well as umt --models DIR omr ...
        sub->add_option("inputs", a->inputs, "Page images, system images or PDFs, or folders")->required();
        sub->add_option("-o,--output", a->output, "Output .musicxml/.mxl/.lmx ('-' = stdout), or a folder")->required();
        sub->add_option("--format", a->format, "Output format for folder output")->check(CLI::IsMember({"musicxml", "mxl", "lmx"}));
        sub->add_flag("--one-part", a->one_part,
                      "Read each system whole as one part (default: one part per staff group, e.g. voice and piano)");
        add_task_flags(sub, a->flags);
        sub->callback([a, &g, &rc] {
            auto s = a->flags.settings();
            tasks::set_threads(a->flags.threads);
            auto jobs = plan_jobs(a->inputs, a->output, image_read_extensions(), a->format);
            tasks::Timings load;
            auto bundle = load_bundle(g, "omr", &load);
            rc = run_jobs(jobs, g, "omr", [&](const Job& job) {
                tasks::Timings t = load;
                auto r = run_omr(*bundle, job.input, s, &t, a->one_part);
                tasks::StageTimer timer(&t, "write");
                if (extension_of(job.output) == "lmx") write_lmx(r.system_lmx, job.output);
                else save_score(r.score, job.output);
                timer.stop();
                log_timings("omr", job, t);
                load = {};
            });
        });
    }

    // ---- amt ----
    {
        auto a = std::make_shared<TaskArgs>();
        auto* sub = app.add_subcommand("amt", "Automatic music transcription: audio -> MIDI");
        sub->fallthrough();
        sub->add_option("inputs", a->inputs, "Audio files (wav flac ogg ...) or folders")->required();
        sub->add_option("-o,--output", a->output, "Output .mid, or a folder")->required();
        add_task_flags(sub, a->flags);
        auto decoder = std::make_shared<std::string>();
        auto onset = std::make_shared<double>(0.0);
        auto frame = std::make_shared<double>(0.0);
        sub->add_option("--decoder", *decoder,
                        "frames: the A2I's onsets-and-frames head; tokens: the decoding loop (default: the bundle's)")
            ->check(CLI::IsMember({"frames", "tokens"}));
        sub->add_option("--onset-threshold", *onset, "frames: onset probability that starts a note (default: the bundle's)")
            ->check(CLI::Range(0.01, 0.99));
        sub->add_option("--frame-threshold", *frame, "frames: probability that keeps a key sounding (default: the bundle's)")
            ->check(CLI::Range(0.01, 0.99));
        sub->callback([a, &g, &rc, decoder, onset, frame] {
            auto s = a->flags.settings();
            tasks::set_threads(a->flags.threads);
            auto jobs = plan_jobs(a->inputs, a->output, audio_read_extensions(), "mid");
            tasks::Timings load;
            auto bundle = load_bundle(g, "amt", &load);
            auto how = tasks::transcribe_defaults(*bundle);
            if (!decoder->empty()) how.decoder = *decoder;
            if (*onset > 0) how.onset_threshold = *onset;
            if (*frame > 0) how.frame_threshold = *frame;
            rc = run_jobs(jobs, g, "amt", [&](const Job& job) {
                tasks::Timings t = load;
                Audio audio;
                {
                    tasks::StageTimer timer(&t, "read");
                    audio = read_audio(job.input);
                }
                Performance perf = tasks::transcribe(*bundle, audio, s, &t, &how);
                tasks::StageTimer timer(&t, "write");
                save_midi(perf, job.output);
                timer.stop();
                spdlog::info("amt: {}: {:.1f} s of audio -> {} notes", job.input, audio.duration_s(), perf.notes.size());
                log_timings("amt", job, t);
                load = {};
            });
        });
    }

    // ---- engrave ----
    {
        auto a = std::make_shared<TaskArgs>();
        auto* sub = app.add_subcommand("engrave", "Engraving: MusicXML/LMX -> score image (PNG)");
        sub->fallthrough();
        sub->add_option("inputs", a->inputs, "MusicXML (.musicxml .xml .mxl) or LMX files, or folders")->required();
        sub->add_option("-o,--output", a->output, "Output .png, or a folder")->required();
        sub->add_option("--engine", a->engine,
                        "neural (the model bundle; the default when it can engrave) or musescore (MuseScore 3)")
            ->check(CLI::IsMember({"neural", "musescore"}));
        sub->add_option("--measures", a->measures, "Measures per system when the score has no system breaks")
            ->check(CLI::Range(1, 64));
        add_task_flags(sub, a->flags);
        sub->callback([a, &g, &rc, notation_exts] {
            auto s = a->flags.settings();
            tasks::set_threads(a->flags.threads);
            auto jobs = plan_jobs(a->inputs, a->output, notation_exts, "png");
            tasks::Timings load;
            std::unique_ptr<model::ModelBundle> bundle;
            if (a->engine != "musescore") {
                tasks::StageTimer timer(&load, "load");
                bundle = a->engine == "neural" ? load_bundle(g, "engrave", nullptr) : capable_bundle(g, "engrave");
                if (!bundle)
                    throw umt::Error("umt engrave: no model bundle that can engrave is installed (looked in " +
                                     resolve_models_dir(g) + "); use --engine musescore, or pass --models DIR");
            }
            rc = run_jobs(jobs, g, "engrave", [&](const Job& job) {
                tasks::Timings t = load;
                std::vector<std::vector<std::string>> chunks;
                Score score;
                {
                    tasks::StageTimer timer(&t, "read");
                    score = read_notation(job.input, bundle ? &chunks : nullptr);
                }
                cv::Mat page;
                if (bundle) {
                    if (chunks.empty()) chunks = tasks::engrave_chunks(score, a->measures);
                    page = tasks::stack_page(tasks::engrave(*bundle, chunks, s, &t));
                } else {
                    page = tasks::engrave_musescore(score, &t);
                }
                write_page(page, job.output, &t);
                log_timings("engrave", job, t);
                load = {};
            });
        });
    }

    // ---- i2a ----
    {
        auto a = std::make_shared<TaskArgs>();
        auto* sub = app.add_subcommand("i2a", "Score image -> performance audio");
        sub->fallthrough();
        sub->add_option("inputs", a->inputs, "Page images, system images or PDFs, or folders")->required();
        sub->add_option("-o,--output", a->output, "Output .wav/.flac/.ogg, or a folder")->required();
        sub->add_option("--pipeline", a->pipeline, "direct (image tokens -> audio tokens; plays each system's lowest staff group, the piano) or staged (OMR of every part -> playback -> synth)")
            ->check(CLI::IsMember({"direct", "staged"}));
        sub->add_option("--engine", a->engine, "Synthesis of the staged pipeline: fluidsynth (default) or neural")
            ->check(CLI::IsMember({"fluidsynth", "neural"}));
        sub->add_option("--systems-per-call", a->systems_per_call, "Systems decoded together into one audio sequence (direct)")
            ->check(CLI::Range(1, 2));
        add_task_flags(sub, a->flags);
        sub->callback([a, &g, &rc] {
            auto s = a->flags.settings();
            tasks::set_threads(a->flags.threads);
            auto jobs = plan_jobs(a->inputs, a->output, image_read_extensions(), "wav");
            tasks::Timings load;
            auto bundle = load_bundle(g, "i2a", &load);
            std::unique_ptr<synth::FluidSynthRenderer> renderer;
            if (a->pipeline == "staged" && a->engine != "neural") renderer = std::make_unique<synth::FluidSynthRenderer>();
            rc = run_jobs(jobs, g, "i2a", [&](const Job& job) {
                tasks::Timings t = load;
                Audio audio;
                if (a->pipeline == "direct") {
                    // The lowest staff group of each system: the piano of a voice-and-piano page,
                    // what the translator learnt to play (staged plays every part).
                    std::vector<cv::Mat> systems;
                    for (const auto& groups : tasks::read_staff_groups(*bundle, job.input, &t))
                        systems.push_back(groups.back().image);
                    audio = tasks::image_to_audio(*bundle, systems, s, a->systems_per_call, &t);
                } else {
                    auto r = run_omr(*bundle, job.input, s, &t);
                    Performance perf = render_score(r.score);
                    if (perf.notes.empty()) throw umt::Error(job.input, "the recognized score has no notes to play");
                    if (renderer) {
                        tasks::StageTimer timer(&t, "synth");
                        audio = renderer->render(perf);
                    } else {
                        audio = tasks::synthesize(*bundle, perf, s, {}, &t);
                    }
                }
                tasks::StageTimer timer(&t, "write");
                write_audio(audio, job.output);
                timer.stop();
                log_timings("i2a", job, t);
                load = {};
            });
        });
    }

    // ---- a2i ----
    {
        auto a = std::make_shared<TaskArgs>();
        auto* sub = app.add_subcommand("a2i", "Performance audio -> score image (PNG)");
        sub->fallthrough();
        sub->add_option("inputs", a->inputs, "Audio files or folders")->required();
        sub->add_option("-o,--output", a->output, "Output .png, or a folder")->required();
        sub->add_option("--pipeline", a->pipeline, "direct (audio tokens -> image tokens) or staged (AMT -> quantize -> engrave)")
            ->check(CLI::IsMember({"direct", "staged"}));
        sub->add_option("--engine", a->engine, "Engraving of the staged pipeline: neural (default) or musescore")
            ->check(CLI::IsMember({"neural", "musescore"}));
        sub->add_option("--measures", a->measures, "Measures per system (staged, neural engraving)")->check(CLI::Range(1, 64));
        add_task_flags(sub, a->flags);
        sub->callback([a, &g, &rc] {
            auto s = a->flags.settings();
            tasks::set_threads(a->flags.threads);
            auto jobs = plan_jobs(a->inputs, a->output, audio_read_extensions(), "png");
            tasks::Timings load;
            auto bundle = load_bundle(g, "a2i", &load);
            rc = run_jobs(jobs, g, "a2i", [&](const Job& job) {
                tasks::Timings t = load;
                Audio audio;
                {
                    tasks::StageTimer timer(&t, "read");
                    audio = read_audio(job.input);
                }
                cv::Mat page;
                if (a->pipeline == "direct") {
                    page = tasks::stack_page(tasks::audio_to_image(*bundle, audio, s, &t));
                } else {
                    Performance perf = tasks::transcribe(*bundle, audio, s, &t);
                    if (perf.notes.empty()) throw umt::Error(job.input, "transcription found no notes to engrave");
                    Score score;
                    {
                        tasks::StageTimer timer(&t, "quantize");
                        score = quantize_performance(perf);
                    }
                    if (a->engine == "musescore") page = tasks::engrave_musescore(score, &t);
                    else page = tasks::stack_page(tasks::engrave(*bundle, tasks::engrave_chunks(score, a->measures), s, &t));
                }
                write_page(page, job.output, &t);
                log_timings("a2i", job, t);
                load = {};
            });
        });
    }
}

}  // namespace umt::cli
