// Neural synthesis through the decoding loop: MIDI event tokens per window -> audio codes -> audio,
// each window primed with the codes that ended the last one.
#include "umt/tasks/synth.hpp"

#include <algorithm>
#include <cmath>

#include "umt/core/error.hpp"
#include "umt/tasks/inputs.hpp"
#include "umt/tokens/midi_tokens.hpp"

namespace umt::tasks {

using tokens::Frame;
using tokens::Modality;

Audio synthesize(model::ModelBundle& bundle, const Performance& perf, const DecodeSettings& s, const SynthOptions& opts,
                 Timings* timings) {
    if (perf.notes.empty()) throw Error("the MIDI file has no notes to render");
    const auto& spec = task_spec(Task::Synth);
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
    const int max_steps = step_limit(s, window_frames, window_frames);
    std::vector<std::vector<Frame>> outputs;
    if (prime == 0 || inputs.size() == 1) {
        std::vector<model::DecodeRequest> requests;
        for (auto& in : inputs) requests.push_back({in, {}, max_steps});
        for (auto& r : run_decode(bundle, spec, requests, s, timings)) outputs.push_back(r.frames);
    } else {
        // Each window continues from the codes that ended the last one, so windows run in order.
        std::vector<Frame> tail;
        for (size_t i = 0; i < inputs.size(); ++i) {
            DecodeSettings one = s;
            one.seed = s.seed + i;  // a fresh stream per window, reproducible from --seed
            auto r = run_decode(bundle, spec, {{inputs[i], tail, max_steps}}, one, timings);
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

}  // namespace umt::tasks
