// The six neural translations: input frames, target modality, sampler defaults and output decoding
// around the one decoding loop (model::Translator).
#include <algorithm>
#include <cmath>
#include <functional>

#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/io/lmx.hpp"
#include "umt/tasks/tasks.hpp"
#include "umt/tokens/midi_tokens.hpp"

namespace umt::tasks {

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

using tokens::Frame;
using tokens::Modality;

namespace {

constexpr int kCell = model::ImageCodec::kDownsample;
// Single-stream outputs (LMX, MIDI events) stop when they loop; audio and images legitimately
// repeat codes (silence, white columns), so only their length limit guards them.
constexpr int kRepetitionStop = 6;

// How the bundle's translators read a modality: "tokens" (its codec's) or, for images, "pixels"
// (the I2A's own CNN stem); other inputs (e.g. log-mel "features") this runtime does not drive yet.
std::string input_kind(const model::ModelBundle& bundle, const char* modality) {
    const auto& m = bundle.manifest();
    std::string input = "tokens";
    if (m.contains("modalities") && m["modalities"].contains(modality))
        input = m["modalities"][modality].value("input", "tokens");
    if (input != "tokens" && !(input == "pixels" && std::string(modality) == "image") &&
        !(input == "features" && std::string(modality) == "audio"))
        throw Error(bundle.dir() + "/manifest.json", std::string("the ") + modality + " input of this bundle is \"" + input +
                                                         "\"; this umt reads codec tokens, image pixels or audio features");
    return input;
}

bool reads_pixels(const model::ModelBundle& bundle) { return input_kind(bundle, "image") == "pixels"; }
bool hears_features(const model::ModelBundle& bundle) { return input_kind(bundle, "audio") == "features"; }

// The manifest's "features" block of the audio modality (the A2I's log-mel input), or {}.
static nlohmann::json audio_features(const model::ModelBundle& bundle) {
    const auto& m = bundle.manifest();
    if (m.contains("modalities") && m["modalities"].contains("audio") && m["modalities"]["audio"].contains("features"))
        return m["modalities"]["audio"]["features"];
    return nlohmann::json::object();
}

static int features_rate(const model::ModelBundle& bundle) { return audio_features(bundle).value("sample_rate", 16000); }

// A normalized system as the pixel stem reads it (white padding to 16-pixel cells, ink = 255 - gray).
model::InkImage to_ink(const cv::Mat& gray) {
    if (gray.type() != CV_8UC1) throw Error("internal: system images must be 8-bit gray");
    model::InkImage im;
    im.height = (gray.rows + kCell - 1) / kCell * kCell;
    im.width = (gray.cols + kCell - 1) / kCell * kCell;
    im.ink.assign(size_t(im.height) * size_t(im.width), 0);
    for (int y = 0; y < gray.rows; ++y) {
        const uint8_t* row = gray.ptr<uint8_t>(y);
        for (int x = 0; x < gray.cols; ++x) im.ink[size_t(y) * size_t(im.width) + size_t(x)] = uint8_t(255 - row[x]);
    }
    return im;
}

// Several systems side by side, top-aligned, one blank cell between them (as the trainer joins an
// image->audio pair's systems).
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

// The pixel stem's limit: one system taller than the model's rows of cells cannot be read.
void check_pixel_height(const model::InkImage& im, const tokens::Vocabulary& V) {
    if (im.height / kCell > V.max_height())
        throw Error("a system of " + std::to_string(im.height / kCell) + " rows of 16-pixel cells; the model reads at most " +
                    std::to_string(V.max_height()));
}

int cap(const DecodeSettings& s, int tied, int model_max) {
    int lim = s.max_len > 0 ? s.max_len : tied;
    return std::max(1, std::min(lim, model_max));
}

std::vector<model::DecodeResult> run_decode(model::Translator& tr, const std::vector<model::DecodeRequest>& requests,
                                            Modality target, const model::SamplerOptions& sampler, const DecodeSettings& s,
                                            int repetition_stop, Timings* timings) {
    StageTimer timer(timings, "decode");
    model::DecodeOptions opt;
    opt.target = target;
    opt.sampler = sampler;
    opt.batch_size = s.batch;
    opt.repetition_stop = repetition_stop;
    model::DecodeStats stats;
    auto results = tr.decode(requests, opt, &stats);
    int looped = 0, unfinished = 0;
    for (const auto& r : results) {
        looped += r.looped;
        unfinished += !r.ended && !r.looped;
    }
    spdlog::debug("decode: {} sequences, {} steps, {} frames, {:.2f} s", requests.size(), stats.steps, stats.row_steps,
                  stats.seconds);
    if (looped) spdlog::warn("{} of {} {} outputs looped and were cut by the repetition stop", looped, results.size(),
                             tokens::modality_name(target));
    if (unfinished)
        spdlog::info("{} of {} {} outputs reached their length limit", unfinished, results.size(),
                     tokens::modality_name(target));
    return results;
}

// Windows of the audio at the model's rate, window_samples long (the last one shorter).
std::vector<std::vector<float>> audio_windows(const Audio& audio, size_t window_samples) {
    std::vector<std::vector<float>> out;
    const auto& x = audio.samples;
    for (size_t start = 0; start < x.size(); start += window_samples)
        out.emplace_back(x.begin() + long(start), x.begin() + long(std::min(x.size(), start + window_samples)));
    if (out.empty()) throw Error("the audio is empty");
    return out;
}

Audio at_model_rate(const model::ModelBundle& bundle, const Audio& audio) {
    int rate = bundle.sample_rate();
    return audio.sample_rate_hz == rate ? audio : resample(audio, rate);
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

}  // namespace

namespace {

// Gives a recognized part the staff count of its groups on the page: the model writes what it
// learnt (two piano staves) even for a voice staff.
void set_staff_count(Part& part, int staves) {
    if (staves <= 0 || part.measures.empty()) return;
    bool set = false;
    for (auto& m : part.measures)
        for (auto& e : m.elements) {
            if (auto* a = std::get_if<Attributes>(&e)) {
                if (!set) {
                    a->staves = staves;
                    set = true;
                }
                a->clefs.erase(std::remove_if(a->clefs.begin(), a->clefs.end(),
                                              [&](const Clef& c) { return c.staff > staves; }),
                               a->clefs.end());
            } else if (auto* n = std::get_if<Note>(&e)) {
                n->staff = std::min(n->staff, staves);
            } else if (auto* f = std::get_if<Forward>(&e)) {
                f->staff = std::min(f->staff, staves);
            } else if (auto* d = std::get_if<Direction>(&e)) {
                d->staff = std::min(d->staff, staves);
            }
        }
    if (!set) {
        Attributes a;
        a.staves = staves;
        auto& first = part.measures.front().elements;
        first.insert(first.begin(), a);
    }
}

}  // namespace

OmrResult recognize_parts(model::ModelBundle& bundle, const std::vector<std::vector<GroupImage>>& systems,
                          const DecodeSettings& s, Timings* timings) {
    const bool pixels = reads_pixels(bundle);
    auto& tr = bundle.translator("i2a");
    const auto& V = bundle.vocabulary();
    std::vector<model::DecodeRequest> requests;
    size_t parts = 0;
    {
        StageTimer timer(timings, "encode");
        for (const auto& groups : systems) {
            if (groups.empty()) throw Error("a system without staff groups");
            parts = std::max(parts, groups.size());
            for (const auto& group : groups) {
                model::DecodeRequest r;
                int cols = 0;
                if (pixels) {
                    r.pixels = to_ink(group.image);
                    check_pixel_height(r.pixels, V);
                    cols = r.pixels.width / kCell;
                } else {
                    auto grid = bundle.image_codec().encode(to_codec_image(group.image));
                    r.input = V.image_frames({grid});
                    cols = grid.cols;
                }
                // A dense piano column (16 px at the model's staff height) holds a few notes of a
                // few tokens each on every staff.
                r.max_steps = cap(s, 16 + 24 * cols, V.max_length(Modality::Lmx) - 1);
                requests.push_back(std::move(r));
            }
        }
    }
    auto results = run_decode(tr, requests, Modality::Lmx, sampler_for(SamplerDefault::Greedy, s), s, kRepetitionStop,
                              timings);
    // Part k from the bottom takes group k from the bottom of every system; a system without it
    // gives as many measure rests as its bottom group has measures.
    OmrResult out;
    out.part_system_lmx.assign(parts, {});
    std::vector<std::vector<bool>> looped(parts);
    std::vector<int> staves(parts, 0);
    size_t next = 0;
    for (const auto& groups : systems) {
        const size_t first_part = parts - groups.size();
        for (size_t g = 0; g < groups.size(); ++g, ++next) {
            out.part_system_lmx[first_part + g].push_back(V.to_lmx(results[next].frames));
            looped[first_part + g].push_back(results[next].looped);
            staves[first_part + g] = std::max(staves[first_part + g], groups[g].staves);
        }
        const auto& bottom = out.part_system_lmx.back().back();
        size_t measures = size_t(std::count(bottom.begin(), bottom.end(), std::string("measure")));
        for (size_t p = 0; p < first_part; ++p) {
            std::vector<std::string> rests;
            for (size_t m = 0; m < measures; ++m) rests.insert(rests.end(), {"measure", "rest", "rest:measure"});
            out.part_system_lmx[p].push_back(std::move(rests));
            looped[p].push_back(false);
        }
    }
    for (size_t p = 0; p < parts; ++p) {
        std::vector<std::string> joined, warnings;
        std::vector<size_t> first_measure;  // index of each system's first measure in the joined part
        size_t measures = 0;
        for (const auto& tokens : out.part_system_lmx[p]) {
            first_measure.push_back(measures);
            for (const auto& t : tokens) {
                measures += t == "measure";
                joined.push_back(t);
            }
        }
        Score one = lmx::delinearize_score(joined, &warnings);
        Part part = one.parts.empty() ? Part{} : std::move(one.parts[0]);
        auto& ms = part.measures;
        for (size_t k = 1; k < first_measure.size(); ++k)
            if (first_measure[k] < ms.size() && first_measure[k] > 0) ms[first_measure[k]].new_system = true;
        set_staff_count(part, staves[p]);
        part.id = "P" + std::to_string(p + 1);
        if (parts > 1) {
            part.name = "Part " + std::to_string(p + 1);
            for (auto& w : warnings) w = part.name + ": " + w;
        }
        out.warnings.insert(out.warnings.end(), warnings.begin(), warnings.end());
        out.score.parts.push_back(std::move(part));
    }
    out.system_lmx = out.part_system_lmx.back();  // the accompaniment is the lowest group
    out.system_looped = looped.back();
    return out;
}

OmrResult recognize(model::ModelBundle& bundle, const std::vector<cv::Mat>& systems, const DecodeSettings& s,
                    Timings* timings) {
    std::vector<std::vector<GroupImage>> one_group;
    for (const auto& sys : systems) one_group.push_back({{sys, 0}});
    return recognize_parts(bundle, one_group, s, timings);
}

double audio_window_s(const model::ModelBundle& bundle) {
    if (hears_features(bundle)) return audio_features(bundle).value("window_s", 4.096);
    const auto& m = bundle.manifest();
    double segment = midi_tokens::kDefaultSegmentSeconds;
    if (m.contains("modalities") && m["modalities"].contains("midi"))
        segment = m["modalities"]["midi"].value("segment_s", segment);
    segment = std::min(segment, midi_tokens::kDefaultSegmentSeconds);
    double fps = double(bundle.sample_rate()) / bundle.hop_samples();
    double fits = (bundle.vocabulary().max_length(Modality::Audio) - 2) / fps;  // begin and end frames
    double w = std::min(segment, std::floor(fits * 100.0) / 100.0);
    if (w < 0.5)
        throw Error(bundle.dir() + "/manifest.json", "the audio max length holds less than 0.5 s of codec frames");
    return w;
}

// Audio cut into model-rate windows, each encoded by the audio codec into one decode request
// whose step limit `max_steps(window seconds)` chooses.
static std::vector<model::DecodeRequest> audio_window_requests(model::ModelBundle& bundle, const Audio& audio,
                                                               double window_s, Timings* timings,
                                                               const std::function<int(double)>& max_steps) {
    const auto& V = bundle.vocabulary();
    StageTimer timer(timings, "encode");
    if (hears_features(bundle)) {  // the translator computes its own log-mel frames
        const int rate = features_rate(bundle);
        Audio a = audio.sample_rate_hz == rate ? audio : resample(audio, rate);
        std::vector<model::DecodeRequest> requests;
        for (auto& w : audio_windows(a, size_t(std::lround(window_s * rate)))) {
            model::DecodeRequest r;
            r.max_steps = max_steps(double(w.size()) / rate);
            r.wave.samples = std::move(w);
            requests.push_back(std::move(r));
        }
        return requests;
    }
    Audio a = at_model_rate(bundle, audio);
    auto& codec = bundle.audio_codec();
    std::vector<model::DecodeRequest> requests;
    for (const auto& w : audio_windows(a, size_t(std::lround(window_s * a.sample_rate_hz)))) {
        model::DecodeRequest r;
        r.input = V.audio_frames(codec.encode(w));
        r.max_steps = max_steps(double(w.size()) / a.sample_rate_hz);
        requests.push_back(std::move(r));
    }
    return requests;
}

TranscribeOptions transcribe_defaults(const model::ModelBundle& bundle) {
    TranscribeOptions o;
    const auto& m = bundle.manifest();
    if (hears_features(bundle)) o.decoder = "frames";
    if (m.contains("tasks") && m["tasks"].contains("amt")) {
        const auto& a = m["tasks"]["amt"];
        o.decoder = a.value("decoder", o.decoder);
        o.onset_threshold = a.value("onset_threshold", o.onset_threshold);
        o.frame_threshold = a.value("frame_threshold", o.frame_threshold);
    }
    return o;
}

Performance transcribe(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s, Timings* timings,
                       const TranscribeOptions* options) {
    auto& tr = bundle.translator("a2i");
    const TranscribeOptions o = options ? *options : transcribe_defaults(bundle);
    if (o.decoder != "frames" && o.decoder != "tokens")
        throw Error("the AMT decoder is \"" + o.decoder + "\": frames or tokens");
    if (o.decoder == "frames") {
        if (!hears_features(bundle) || !tr.has_frame_head())
            throw Error(bundle.dir(), "this bundle's A2I has no frame head: use --decoder tokens");
        const int rate = features_rate(bundle);
        Audio a;
        {
            StageTimer timer(timings, "resample");
            a = audio.sample_rate_hz == rate ? audio : resample(audio, rate);
        }
        if (a.samples.empty()) throw Error("the audio is empty");
        StageTimer timer(timings, "frame head");
        Performance perf;
        for (const auto& n : tr.transcribe_frames(a.samples, Modality::Midi, o.onset_threshold, o.frame_threshold)) {
            NoteEvent e;
            e.pitch = n.pitch;
            e.onset_s = n.onset_s;
            e.offset_s = std::max(n.offset_s, n.onset_s + 0.01);
            e.velocity = std::clamp(n.velocity, 1, 127);
            perf.notes.push_back(e);
        }
        perf.sort();
        return perf;
    }
    const auto& V = bundle.vocabulary();
    const double window_s = audio_window_s(bundle);
    // Dense piano: ~20 notes/s with an onset, an offset and a shift each, plus the tie section.
    auto requests = audio_window_requests(bundle, audio, window_s, timings, [&](double dur) {
        return cap(s, 64 + int(std::ceil(100.0 * dur)), V.max_length(Modality::Midi) - 1);
    });
    auto results = run_decode(tr, requests, Modality::Midi, sampler_for(SamplerDefault::TopP, s), s, kRepetitionStop,
                              timings);
    StageTimer timer(timings, "stitch");
    std::vector<midi_tokens::Segment> segments;
    for (const auto& r : results) segments.push_back(V.to_midi(r.frames));
    return midi_tokens::decode(segments, window_s);
}

std::vector<std::vector<std::string>> engrave_chunks(const Score& score, int measures_per_chunk) {
    if (measures_per_chunk < 1) throw Error("measures per chunk must be >= 1");
    Part part = score.default_part();
    if (part.measures.empty()) throw Error("the score has no measures to engrave");
    bool has_breaks = false;
    for (size_t i = 1; i < part.measures.size(); ++i) has_breaks |= part.measures[i].new_system;
    if (!has_breaks)
        for (size_t i = 0; i < part.measures.size(); ++i)
            part.measures[i].new_system = i > 0 && i % size_t(measures_per_chunk) == 0;
    return lmx::linearize_systems(part);
}

std::vector<cv::Mat> engrave(model::ModelBundle& bundle, const std::vector<std::vector<std::string>>& chunks,
                             const DecodeSettings& s, Timings* timings) {
    auto& tr = bundle.translator("a2i");
    const auto& V = bundle.vocabulary();
    std::vector<model::DecodeRequest> requests;
    {
        StageTimer timer(timings, "encode");
        for (size_t i = 0; i < chunks.size(); ++i) {
            model::DecodeRequest r;
            try {
                r.input = V.lmx_frames(chunks[i]);
            } catch (const Error& e) {
                throw Error("system " + std::to_string(i + 1) + " (" + std::to_string(chunks[i].size()) +
                            " LMX tokens): " + e.what());
            }
            // About one code column of a full-height system per LMX token, and a height token.
            r.max_steps = cap(s, 8 + int(chunks[i].size()) * (V.max_height() + 1), V.max_length(Modality::Image) - 1);
            requests.push_back(std::move(r));
        }
    }
    auto results = run_decode(tr, requests, Modality::Image, sampler_for(SamplerDefault::Multinomial, s), s, 0, timings);
    return decode_images(bundle, results, timings, "system");
}

Audio synthesize(model::ModelBundle& bundle, const Performance& perf, const DecodeSettings& s, const SynthOptions& opts,
                 Timings* timings) {
    if (perf.notes.empty()) throw Error("the MIDI file has no notes to render");
    auto& tr = bundle.translator("i2a");
    const auto& V = bundle.vocabulary();
    auto& codec = bundle.audio_codec();
    const int rate = bundle.sample_rate(), hop = bundle.hop_samples();
    const double fps = double(rate) / hop;
    const int prime = std::max(0, int(std::lround(opts.prime_s * fps)));
    // begin + prime + window + end frames must fit the model's audio length.
    const int room = V.max_length(Modality::Audio) - 2 - prime;
    int window_frames = int(std::floor(std::min({opts.window_s, midi_tokens::kDefaultSegmentSeconds, room / fps}) * fps));
    if (window_frames < int(fps / 2))
        throw Error("synthesis windows of " + std::to_string(window_frames) + " codec frames are too short: lower --prime");
    const double window_s = double(window_frames) * hop / rate;
    std::vector<midi_tokens::Segment> segments;
    std::vector<tokens::Sequence> inputs;
    {
        StageTimer timer(timings, "encode");
        segments = midi_tokens::encode(perf.with_sustain_applied(), window_s);
        for (size_t i = 0; i < segments.size(); ++i) {
            try {
                inputs.push_back(V.midi_frames(segments[i]));
            } catch (const Error& e) {
                throw Error("synthesis window " + std::to_string(i + 1) + " (" + std::to_string(segments[i].size()) +
                            " MIDI events): " + e.what() + "; pass a shorter --window");
            }
        }
    }
    const auto sampler = sampler_for(SamplerDefault::Multinomial, s);
    const int max_steps = cap(s, window_frames, window_frames);
    std::vector<std::vector<Frame>> outputs;
    if (prime == 0 || inputs.size() == 1) {
        std::vector<model::DecodeRequest> requests;
        for (auto& in : inputs) requests.push_back({in, {}, max_steps});
        for (auto& r : run_decode(tr, requests, Modality::Audio, sampler, s, 0, timings)) outputs.push_back(r.frames);
    } else {
        // Each window continues from the codes that ended the last one, so windows run in order.
        std::vector<Frame> tail;
        for (size_t i = 0; i < inputs.size(); ++i) {
            DecodeSettings one = s;
            one.seed = s.seed + i;  // a fresh stream per window, reproducible from --seed
            auto r = run_decode(tr, {{inputs[i], tail, max_steps}}, Modality::Audio, sampler_for(SamplerDefault::Multinomial, one),
                                one, 0, timings);
            outputs.push_back(r[0].frames);
            std::vector<Frame> all = tail;
            all.insert(all.end(), r[0].frames.begin(), r[0].frames.end());
            tail.assign(all.end() - long(std::min(all.size(), size_t(prime))), all.end());
        }
    }
    StageTimer timer(timings, "codec decode");
    Audio out;
    out.sample_rate_hz = rate;
    const size_t window_samples = size_t(window_frames) * size_t(hop);
    for (const auto& frames : outputs) {
        auto wave = codec.decode(V.to_audio(frames));
        wave.resize(window_samples, 0.0f);  // windows keep their place on the time grid
        out.samples.insert(out.samples.end(), wave.begin(), wave.end());
    }
    size_t keep = size_t(std::ceil((perf.end_s() + opts.tail_s) * rate));
    if (out.samples.size() > keep) out.samples.resize(keep);
    return out;
}

Audio image_to_audio(model::ModelBundle& bundle, const std::vector<cv::Mat>& systems, const DecodeSettings& s,
                     int systems_per_call, Timings* timings) {
    if (systems.empty()) throw Error("no systems to play");
    if (systems_per_call < 1 || systems_per_call > 2) throw Error("systems per call must be 1 or 2");
    auto& tr = bundle.translator("i2a");
    const auto& V = bundle.vocabulary();
    const double fps = double(bundle.sample_rate()) / bundle.hop_samples();
    std::vector<model::DecodeRequest> requests;
    if (reads_pixels(bundle)) {
        StageTimer timer(timings, "encode");
        for (size_t i = 0; i < systems.size();) {
            size_t n = std::min(size_t(systems_per_call), systems.size() - i);
            std::vector<model::InkImage> ims;
            for (size_t k = i; k < i + n; ++k) {
                ims.push_back(to_ink(systems[k]));
                check_pixel_height(ims.back(), V);
            }
            model::DecodeRequest r;
            r.pixels = side_by_side(ims);
            r.max_steps = cap(s, 16 + int(std::ceil(r.pixels.width / kCell * fps)), V.max_length(Modality::Audio) - 1);
            requests.push_back(std::move(r));
            i += n;
        }
    } else {
        StageTimer timer(timings, "encode");
        auto& codec = bundle.image_codec();
        std::vector<tokens::CodeGrid> grids;
        for (const auto& sys : systems) grids.push_back(codec.encode(to_codec_image(sys)));
        for (size_t i = 0; i < grids.size();) {
            size_t n = std::min(size_t(systems_per_call), grids.size() - i);
            model::DecodeRequest r;
            for (;; --n) {
                try {
                    r.input = V.image_frames(std::vector<tokens::CodeGrid>(grids.begin() + long(i), grids.begin() + long(i + n)));
                    break;
                } catch (const Error&) {
                    if (n == 1) throw;  // one system alone does not fit: the error names the limit
                }
            }
            int cols = 0;
            for (size_t k = i; k < i + n; ++k) cols += grids[k].cols;
            // A code column spans about an eighth note at the model's staff height: < 1 s of audio.
            r.max_steps = cap(s, 16 + int(std::ceil(cols * fps)), V.max_length(Modality::Audio) - 1);
            requests.push_back(std::move(r));
            i += n;
        }
    }
    auto results = run_decode(tr, requests, Modality::Audio, sampler_for(SamplerDefault::Multinomial, s), s, 0, timings);
    StageTimer timer(timings, "codec decode");
    auto& codec = bundle.audio_codec();
    Audio out;
    out.sample_rate_hz = bundle.sample_rate();
    for (const auto& r : results) {
        auto wave = codec.decode(V.to_audio(r.frames));
        out.samples.insert(out.samples.end(), wave.begin(), wave.end());
    }
    if (out.samples.empty()) throw Error("the model produced no audio");
    return out;
}

std::vector<cv::Mat> audio_to_image(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s,
                                    Timings* timings) {
    auto& tr = bundle.translator("a2i");
    const auto& V = bundle.vocabulary();
    // About 8 code columns of a full system per second of music, plus height and SEP frames.
    auto requests = audio_window_requests(bundle, audio, audio_window_s(bundle), timings, [&](double dur) {
        return cap(s, 16 + int(std::ceil(dur * 8.0)) * (V.max_height() + 1), V.max_length(Modality::Image) - 1);
    });
    auto results = run_decode(tr, requests, Modality::Image, sampler_for(SamplerDefault::Multinomial, s), s, 0, timings);
    return decode_images(bundle, results, timings, "audio window");
}

}  // namespace umt::tasks
