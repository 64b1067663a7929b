// The far translations through the decoding loop: score images straight to audio codes, and audio
// windows straight to image tokens.
#include "umt/tasks/image_audio.hpp"

#include <algorithm>
#include <cmath>

#include "umt/core/error.hpp"
#include "umt/tasks/inputs.hpp"

namespace umt::tasks {

using tokens::Modality;

namespace {
constexpr int kCell = model::ImageCodec::kDownsample;
}  // namespace

Audio image_to_audio(model::ModelBundle& bundle, const std::vector<cv::Mat>& systems, const DecodeSettings& s,
                     int systems_per_call, Timings* timings) {
    if (systems.empty()) throw Error("no systems to play");
    if (systems_per_call < 1 || systems_per_call > 2) throw Error("systems per call must be 1 or 2");
    const auto& V = bundle.vocabulary();
    const double fps = double(bundle.sample_rate()) / bundle.hop_samples();
    std::vector<model::DecodeRequest> requests;
    if (reads_pixels(bundle)) {
        StageTimer timer(timings, "encode");
        for (size_t i = 0; i < systems.size();) {
            size_t n = std::min(size_t(systems_per_call), systems.size() - i);
            std::vector<model::InkImage> ims;
            for (size_t k = i; k < i + n; ++k) {
                ims.push_back(to_ink(systems[k], V));
            }
            model::DecodeRequest r;
            r.pixels = side_by_side(ims);
            r.max_steps = step_limit(s, 16 + int(std::ceil(r.pixels.width / kCell * fps)), V.max_length(Modality::Audio) - 1);
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
            r.max_steps = step_limit(s, 16 + int(std::ceil(cols * fps)), V.max_length(Modality::Audio) - 1);
            requests.push_back(std::move(r));
            i += n;
        }
    }
    auto results = run_decode(bundle, task_spec(Task::ImageToAudio), requests, s, timings);
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
    const auto& V = bundle.vocabulary();
    // About 8 code columns of a full system per second of music, plus height and SEP frames.
    auto requests = audio_window_requests(bundle, audio, audio_window_s(bundle), timings, [&](double dur) {
        return step_limit(s, 16 + int(std::ceil(dur * 8.0)) * (V.max_height() + 1), V.max_length(Modality::Image) - 1);
    });
    auto results = run_decode(bundle, task_spec(Task::AudioToImage), requests, s, timings);
    return decode_images(bundle, results, timings, "audio window");
}

}  // namespace umt::tasks
