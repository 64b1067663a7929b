// umt codec image|audio: round-trip files through the bundle's codecs (encode, then decode), keep
// the codes (--codes), or decode a codes file back to an image or audio.
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "task_command.hpp"
#include "umt/cli/batch.hpp"
#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/audio.hpp"
#include "umt/io/image.hpp"
#include "umt/layout/systems.hpp"
#include "umt/model/bundle.hpp"
#include "umt/model/runtime.hpp"
#include "umt/tasks/tasks.hpp"

namespace umt::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCodesFormat = "umt-codes";

struct CodecArgs {
    std::vector<std::string> inputs;
    std::string output;
    std::string codes;
    int rate_hz = 0;
    BatchFlags batch;
};

bool is_codes_file(const std::string& path) { return extension_of(path) == "json"; }

nlohmann::json read_codes(const std::string& path, const std::string& kind) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_file(path));
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("not a codes file (invalid JSON: ") + e.what() + ")");
    }
    if (!j.is_object() || j.value("format", "") != kCodesFormat)
        throw Error(path, std::string("not a codes file (\"format\" is not \"") + kCodesFormat + "\")");
    if (j.value("kind", "") != kind)
        throw Error(path, "holds " + j.value("kind", std::string("?")) + " codes, not " + kind + " codes");
    return j;
}

std::array<int, tokens::kSlots> code_cell(const nlohmann::json& cell, int codebook_size, const std::string& path) {
    if (!cell.is_array() || cell.size() != size_t(tokens::kSlots))
        throw Error(path, "every code cell must be an array of " + std::to_string(tokens::kSlots) + " integers");
    std::array<int, tokens::kSlots> out{};
    for (int j = 0; j < tokens::kSlots; ++j) {
        if (!cell[j].is_number_integer()) throw Error(path, "codes must be integers");
        int c = cell[j].get<int>();
        if (c < 0 || c >= codebook_size)
            throw Error(path, "code " + std::to_string(c) + " is outside the codebook (0.." + std::to_string(codebook_size - 1) + ")");
        out[j] = c;
    }
    return out;
}

void write_codes(const nlohmann::json& j, const std::string& path) { write_file_atomic(path, j.dump() + "\n"); }

// ---- image ----

void run_image(model::ModelBundle& bundle, const Job& job, const CodecArgs& a) {
    auto& codec = bundle.image_codec();
    const int k = bundle.vocabulary().codebook_size(tokens::Modality::Image);
    std::vector<tokens::CodeGrid> grids;
    Timings timings;
    if (is_codes_file(job.input)) {
        auto j = read_codes(job.input, "image");
        if (!j.contains("systems") || !j["systems"].is_array() || j["systems"].empty())
            throw Error(job.input, "the codes file has no systems");
        for (const auto& s : j["systems"]) {
            tokens::CodeGrid g;
            g.rows = s.value("rows", 0);
            g.cols = s.value("cols", 0);
            if (g.rows <= 0 || g.cols <= 0 || !s.contains("codes") || !s["codes"].is_array() ||
                s["codes"].size() != size_t(g.rows) * size_t(g.cols))
                throw Error(job.input, "a system's codes do not match its rows x cols");
            for (const auto& cell : s["codes"]) g.codes.push_back(code_cell(cell, k, job.input));
            grids.push_back(std::move(g));
        }
    } else {
        auto systems = tasks::read_systems(bundle, job.input, &timings);
        StageTimer timer(&timings, "encode");
        for (const auto& s : systems) grids.push_back(codec.encode(tasks::to_codec_image(s)));
        timer.stop();
        if (!a.codes.empty()) {
            nlohmann::json j = {{"format", kCodesFormat}, {"kind", "image"}, {"codebooks", tokens::kSlots},
                                {"codebook_size", k}, {"staff_height_px", bundle.staff_height_px()},
                                {"systems", nlohmann::json::array()}};
            for (const auto& g : grids) {
                nlohmann::json cells = nlohmann::json::array();
                for (const auto& c : g.codes) cells.push_back(c);
                j["systems"].push_back({{"rows", g.rows}, {"cols", g.cols}, {"codes", cells}});
            }
            write_codes(j, a.codes);
        }
    }
    if (!job.output.empty()) {
        StageTimer timer(&timings, "decode");
        std::vector<cv::Mat> decoded;
        for (const auto& g : grids) decoded.push_back(tasks::from_codec_image(codec.decode(g)));
        timer.stop();
        write_image(decoded.size() == 1 ? decoded[0] : layout::stack_page(decoded), job.output);
    }
    spdlog::info("codec: {}: {} system(s); {}", job.input, grids.size(), timings.summary());
}

// ---- audio ----

void run_audio(model::ModelBundle& bundle, const Job& job, const CodecArgs& a) {
    auto& codec = bundle.audio_codec();
    const int k = bundle.vocabulary().codebook_size(tokens::Modality::Audio);
    const int rate = bundle.sample_rate();
    std::vector<tokens::AudioFrame> frames;
    int out_rate = a.rate_hz > 0 ? a.rate_hz : rate;
    Timings timings;  // encode and decode only: their sum gives the real-time factor
    if (is_codes_file(job.input)) {
        auto j = read_codes(job.input, "audio");
        if (j.value("sample_rate", 0) != rate || j.value("hop_samples", 0) != bundle.hop_samples())
            throw Error(job.input, "the codes were made at " + std::to_string(j.value("sample_rate", 0)) + " Hz, hop " +
                                       std::to_string(j.value("hop_samples", 0)) + "; this codec runs at " +
                                       std::to_string(rate) + " Hz, hop " + std::to_string(bundle.hop_samples()));
        if (!j.contains("frames") || !j["frames"].is_array() || j["frames"].empty())
            throw Error(job.input, "the codes file has no frames");
        for (const auto& f : j["frames"]) frames.push_back(code_cell(f, k, job.input));
    } else {
        Audio original = read_audio(job.input);
        if (original.samples.empty()) throw Error(job.input, "no audio samples");
        if (a.rate_hz <= 0) out_rate = original.sample_rate_hz;
        Audio audio = resample(original, rate);
        StageTimer timer(&timings, "encode");
        frames = codec.encode(audio.samples);
        timer.stop();
        if (!a.codes.empty()) {
            nlohmann::json cells = nlohmann::json::array();
            for (const auto& f : frames) cells.push_back(f);
            write_codes({{"format", kCodesFormat}, {"kind", "audio"}, {"codebooks", tokens::kSlots}, {"codebook_size", k},
                         {"sample_rate", rate}, {"hop_samples", bundle.hop_samples()}, {"frames", cells}},
                        a.codes);
        }
    }
    const double seconds = double(frames.size()) * bundle.hop_samples() / rate;
    if (!job.output.empty()) {
        StageTimer timer(&timings, "decode");
        Audio out{rate, codec.decode(frames)};
        timer.stop();
        AudioWriteOptions w;
        w.sample_rate_hz = out_rate;
        write_audio(out, job.output, w);
    }
    spdlog::info("codec: {}: {:.1f} s of audio, {} frames; {} ({:.0f}x real time)", job.input, seconds, frames.size(),
                 timings.summary(), seconds / std::max(timings.total(), 1e-9));
}

void add_common(CLI::App* sub, CodecArgs& a, const char* what) {
    sub->add_option("inputs", a.inputs, std::string(what) + ", or a codes file (.json) to decode; files or folders")->required();
    sub->add_option("-o,--output", a.output, "Reconstructed output file, or a folder for several inputs");
    sub->add_option("--codes", a.codes, "Also write the codes (JSON: format umt-codes) to this file (one input only)");
    add_batch_flags(sub, a.batch);
}

}  // namespace

void register_codec(CLI::App& app, GlobalOptions& g, int& rc) {
    auto* codec = app.add_subcommand("codec", "Round-trip a score image or audio through the model bundle's codec (encode, decode)");
    codec->require_subcommand(1);
    codec->fallthrough();
    for (const std::string kind : {"image", "audio"}) {
        auto a = std::make_shared<CodecArgs>();
        auto* sub = codec->add_subcommand(
            kind, kind == "image" ? "System or page image / PDF -> image codes -> reconstructed system image(s)"
                                  : "Audio file -> audio codes -> reconstructed audio (at the input's rate unless --rate)");
        sub->fallthrough();
        add_common(sub, *a, kind == "image" ? "Score images or PDFs (pages are cut into systems)" : "Audio files");
        if (kind == "audio")
            sub->add_option("--rate", a->rate_hz, "Output sample rate in Hz (default: the input's; codes input: the codec's)")
                ->check(CLI::Range(8000, 96000));
        sub->callback([a, kind, &g, &rc] {
            if (a->inputs.empty() && a->batch.inputs_list.empty()) throw UsageError("umt codec " + kind + ": no input given");
            if (a->output.empty() && a->codes.empty()) throw UsageError("umt codec " + kind + ": give -o OUTPUT and/or --codes FILE");
            if (!a->codes.empty() && a->inputs.size() != 1) throw UsageError("umt codec " + kind + ": --codes takes one input");
            // Folders expand to images / audio only (a folder from `umt systems` also holds systems.json);
            // a codes file is decoded when named explicitly.
            BatchPlan plan;
            if (a->output.empty()) {
                plan.jobs.push_back({a->inputs[0], ""});
                plan.planned = 1;
                plan.finished = [](const Job&) { return false; };
            } else {
                BatchSpec spec;
                spec.verb = "codec " + kind;
                spec.inputs = a->inputs;
                spec.output = a->output;
                spec.input_exts = kind == "image" ? image_read_extensions() : audio_read_extensions();
                spec.output_exts = kind == "image" ? std::vector<std::string>{"png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"}
                                                   : audio_write_extensions();
                spec.out_ext = kind == "image" ? "png" : "wav";
                plan = plan_batch(spec, a->batch);
            }
            model::set_threads(threads_per_job(a->batch, g, plan.jobs.size()));
            auto opened = open_bundle(g, "umt codec");
            auto& bundle = *opened;
            if (workers_for(a->batch, g, plan.jobs.size()) > 1) bundle.load_all();
            rc = run_batch(plan, a->batch, g, "codec " + kind, [&](const Job& job, JobContext& ctx) {
                model::set_threads(ctx.threads);
                if (kind == "image") run_image(bundle, job, *a);
                else run_audio(bundle, job, *a);
            });
        });
    }
}

}  // namespace umt::cli
