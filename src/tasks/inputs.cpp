// The tasks' shared inputs and decoding call: pages into system images, images into codec images
// or pixels, audio into codec-token or waveform windows, and the decode call every task makes.
#include "umt/tasks/inputs.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/io/image.hpp"
#include "umt/layout/systems.hpp"
#include "umt/tokens/midi_tokens.hpp"

namespace umt::tasks {

using tokens::Modality;

namespace {

constexpr int kCell = model::ImageCodec::kDownsample;

// Per system, its whole image (groups = false) or its staff groups' images.
std::vector<std::vector<GroupImage>> prepare_page(const cv::Mat& gray, int staff_height_px, int staff_bands,
                                                  int max_rows, const std::string& source, bool groups,
                                                  Timings* timings) {
    StageTimer timer(timings, "layout");
    layout::LayoutOptions lo;
    lo.staff_height_px = staff_height_px;
    lo.staff_bands = staff_bands;
    lo.pad_multiple = kCell;
    auto page = layout::analyze_page(gray, lo);
    std::vector<std::vector<GroupImage>> systems;
    for (auto& s : page.systems) {
        systems.emplace_back();
        if (!groups || s.groups.empty()) systems.back().push_back({s.image, int(s.staves.size())});
        else for (auto& g : s.groups) systems.back().push_back({g.image, g.count});
    }
    if (systems.empty()) {
        // A crop too small for staff detection is read as one system, as it is.
        if (gray.empty() || gray.rows > max_rows * kCell)
            throw Error(source, "no staves found (and the image is too tall to be a single system of at most " +
                                    std::to_string(max_rows * kCell) + " px)");
        cv::Mat padded;
        cv::copyMakeBorder(gray, padded, 0, (kCell - gray.rows % kCell) % kCell, 0, (kCell - gray.cols % kCell) % kCell,
                           cv::BORDER_CONSTANT, cv::Scalar(255));
        spdlog::info("{}: no staves found; read as one system of {}x{} px", source, padded.cols, padded.rows);
        systems.push_back({{padded, 0}});
    }
    for (size_t i = 0; i < systems.size(); ++i)
        for (const auto& g : systems[i])
            if (g.image.rows / kCell > max_rows)
                throw Error(source, "system " + std::to_string(i + 1) + " is " + std::to_string(g.image.rows) +
                                        " px tall after normalization; this model reads systems of at most " +
                                        std::to_string(max_rows * kCell) + " px (" + std::to_string(max_rows) + " code rows)");
    return systems;
}

std::vector<std::vector<GroupImage>> read_pages_as(model::ModelBundle& bundle, const std::string& path, bool groups,
                                                   Timings* timings) {
    std::vector<PageImage> pages;
    {
        StageTimer timer(timings, "read");
        pages = read_pages(path);
    }
    std::vector<std::vector<GroupImage>> out;
    for (const auto& p : pages) {
        std::string source = pages.size() > 1 ? path + " page " + std::to_string(p.page) : path;
        auto systems = prepare_page(p.gray, bundle.staff_height_px(), bundle.config().staff_bands,
                                    bundle.vocabulary().max_height(), source, groups, timings);
        out.insert(out.end(), systems.begin(), systems.end());
    }
    return out;
}

// How the bundle's translators read a modality: "tokens" (its codec's), for images "pixels" (the
// I2A's own CNN stem), for audio "features" (the A2I's own log-mel stem over the waveform).
std::string input_kind(const model::ModelBundle& bundle, Modality modality) {
    const auto& c = bundle.config();
    const std::string& input = modality == Modality::Image ? c.image_input : c.audio_input;
    const std::string name = tokens::modality_name(modality);
    if (input != "tokens" && !(input == "pixels" && modality == Modality::Image) &&
        !(input == "features" && modality == Modality::Audio))
        throw Error(bundle.dir() + "/manifest.json", "the " + name + " input of this bundle is \"" + input +
                                                         "\"; this umt reads codec tokens, image pixels or audio features");
    return input;
}

}  // namespace

std::vector<cv::Mat> read_systems(model::ModelBundle& bundle, const std::string& path, Timings* timings) {
    std::vector<cv::Mat> out;
    for (const auto& s : read_pages_as(bundle, path, false, timings)) out.push_back(s.at(0).image);
    return out;
}

std::vector<std::vector<GroupImage>> read_staff_groups(model::ModelBundle& bundle, const std::string& path,
                                                       Timings* timings) {
    return read_pages_as(bundle, path, true, timings);
}

model::GrayImage to_codec_image(const cv::Mat& m) {
    if (m.type() != CV_8UC1) throw Error("internal: system images must be 8-bit gray");
    model::GrayImage g;
    g.height = m.rows;
    g.width = m.cols;
    g.pixels.resize(size_t(m.rows) * size_t(m.cols));
    for (int y = 0; y < m.rows; ++y) {
        const uint8_t* row = m.ptr<uint8_t>(y);
        for (int x = 0; x < m.cols; ++x) g.pixels[size_t(y) * m.cols + x] = float(row[x]) / 255.0f;
    }
    return g;
}

cv::Mat from_codec_image(const model::GrayImage& g) {
    cv::Mat m(g.height, g.width, CV_8UC1);
    for (int y = 0; y < g.height; ++y) {
        uint8_t* row = m.ptr<uint8_t>(y);
        for (int x = 0; x < g.width; ++x)
            row[x] = uint8_t(std::lround(std::clamp(g.pixels[size_t(y) * g.width + x], 0.0f, 1.0f) * 255.0f));
    }
    return m;
}

bool reads_pixels(const model::ModelBundle& bundle) { return input_kind(bundle, Modality::Image) == "pixels"; }
bool hears_features(const model::ModelBundle& bundle) { return input_kind(bundle, Modality::Audio) == "features"; }

int features_rate(const model::ModelBundle& bundle) {
    if (!hears_features(bundle))
        throw Error(bundle.manifest_path(), "the audio input of this bundle is not \"features\"");
    return bundle.config().audio_features->sample_rate;
}

model::InkImage to_ink(const cv::Mat& gray, const tokens::Vocabulary& V) {
    if (gray.type() != CV_8UC1) throw Error("internal: system images must be 8-bit gray");
    model::InkImage im;
    im.height = (gray.rows + kCell - 1) / kCell * kCell;
    im.width = (gray.cols + kCell - 1) / kCell * kCell;
    im.ink.assign(size_t(im.height) * size_t(im.width), 0);
    for (int y = 0; y < gray.rows; ++y) {
        const uint8_t* row = gray.ptr<uint8_t>(y);
        for (int x = 0; x < gray.cols; ++x) im.ink[size_t(y) * size_t(im.width) + size_t(x)] = uint8_t(255 - row[x]);
    }
    // The pixel stem's limit: one system taller than the model's rows of cells cannot be read.
    if (im.height / kCell > V.max_height())
        throw Error("a system of " + std::to_string(im.height / kCell) + " rows of 16-pixel cells; the model reads at most " +
                    std::to_string(V.max_height()));
    return im;
}

model::InkImage side_by_side(const std::vector<model::InkImage>& ims) {
    model::InkImage out;
    for (const auto& im : ims) {
        out.height = std::max(out.height, im.height);
        out.width += im.width;
    }
    out.width += kCell * int(ims.size() - 1);
    out.ink.assign(size_t(out.height) * size_t(out.width), 0);
    int x0 = 0;
    for (const auto& im : ims) {
        for (int y = 0; y < im.height; ++y)
            std::copy_n(im.ink.begin() + long(y) * im.width, im.width, out.ink.begin() + long(y) * out.width + x0);
        x0 += im.width + kCell;
    }
    return out;
}

std::vector<cv::Mat> decode_images(model::ModelBundle& bundle, const std::vector<model::DecodeResult>& results,
                                   Timings* timings, const char* what) {
    StageTimer timer(timings, "codec decode");
    const auto& V = bundle.vocabulary();
    auto& codec = bundle.image_codec();
    std::vector<cv::Mat> out;
    for (size_t i = 0; i < results.size(); ++i) {
        size_t before = out.size();
        for (const auto& grid : V.to_image(results[i].frames))
            if (grid.cols > 0 && grid.rows > 0) out.push_back(from_codec_image(codec.decode(grid)));
        if (out.size() == before) spdlog::warn("{} {}: the model produced no image; skipped", what, i + 1);
    }
    if (out.empty()) throw Error("the model produced no image for any " + std::string(what));
    return out;
}

double audio_window_s(const model::ModelBundle& bundle) {
    if (hears_features(bundle)) return bundle.config().audio_features->window_s;
    double segment = bundle.config().midi_segment_s.value_or(midi_tokens::kDefaultSegmentSeconds);
    segment = std::min(segment, midi_tokens::kDefaultSegmentSeconds);
    double fps = double(bundle.sample_rate()) / bundle.hop_samples();
    double fits = (bundle.vocabulary().max_length(Modality::Audio) - 2) / fps;  // begin and end frames
    double w = std::min(segment, std::floor(fits * 100.0) / 100.0);
    if (w < 0.5)
        throw Error(bundle.dir() + "/manifest.json", "the audio max length holds less than 0.5 s of codec frames");
    return w;
}

std::vector<model::DecodeRequest> audio_window_requests(model::ModelBundle& bundle, const Audio& audio,
                                                        double window_s, Timings* timings,
                                                        const std::function<int(double)>& max_steps) {
    const bool features = hears_features(bundle);  // throws unless codec tokens or features
    const auto& V = bundle.vocabulary();
    StageTimer timer(timings, "encode");
    // Features: the translator computes its own log-mel frames of the waveform at the features
    // rate; tokens: the audio codec's codes at the codec's rate.
    const int rate = features ? features_rate(bundle) : bundle.sample_rate();
    Audio a = audio.sample_rate_hz == rate ? audio : resample(audio, rate);
    model::AudioCodec* codec = features ? nullptr : &bundle.audio_codec();
    const size_t window_samples = std::max<size_t>(1, size_t(std::lround(window_s * a.sample_rate_hz)));
    std::vector<model::DecodeRequest> requests;
    for (size_t start = 0; start < a.samples.size(); start += window_samples) {
        std::vector<float> w(a.samples.begin() + long(start),
                             a.samples.begin() + long(std::min(a.samples.size(), start + window_samples)));
        model::DecodeRequest r;
        r.max_steps = max_steps(double(w.size()) / a.sample_rate_hz);
        if (codec) r.input = V.audio_frames(codec->encode(w));
        else r.wave.samples = std::move(w);
        requests.push_back(std::move(r));
    }
    if (requests.empty()) throw Error("the audio is empty");
    return requests;
}

int step_limit(const DecodeSettings& s, int tied, int model_max) {
    int lim = s.max_len > 0 ? s.max_len : tied;
    return std::max(1, std::min(lim, model_max));
}

std::vector<model::DecodeResult> run_decode(model::ModelBundle& bundle, const TaskSpec& spec,
                                            const std::vector<model::DecodeRequest>& requests, const DecodeSettings& s,
                                            Timings* timings) {
    auto& translator = bundle.translator(spec.direction);
    const auto options = decode_options(spec, s);
    StageTimer timer(timings, "decode");
    model::DecodeStats stats;
    auto results = s.pool ? s.pool->decode(translator, requests, options, &stats) : translator.decode(requests, options, &stats);
    int looped = 0, unfinished = 0;
    for (const auto& r : results) {
        looped += r.looped;
        unfinished += !r.ended && !r.looped;
    }
    spdlog::debug("decode: {} sequences, {} steps, {} frames, {:.2f} s ({:.2f} s reading the inputs)", requests.size(),
                  stats.steps, stats.row_steps, stats.seconds, stats.encode_seconds);
    const char* target = tokens::modality_name(spec.target);
    if (looped) spdlog::warn("{} of {} {} outputs looped and were cut by the repetition stop", looped, results.size(), target);
    if (unfinished) spdlog::info("{} of {} {} outputs reached their length limit", unfinished, results.size(), target);
    return results;
}

}  // namespace umt::tasks
