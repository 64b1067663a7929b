// Transcription: the audio's codec-token windows through the decoding loop into MIDI event tokens,
// stitched into one note list.
#include "umt/tasks/amt.hpp"

#include <cmath>

#include "umt/tasks/inputs.hpp"
#include "umt/tokens/midi_tokens.hpp"

namespace umt::tasks {

using tokens::Modality;

namespace {

// The token path of transcription: each window's MIDI event tokens from the decoding loop.
std::vector<midi_tokens::Segment> decode_segments(model::ModelBundle& bundle, const Audio& audio, double window_s,
                                                  const DecodeSettings& s, Timings* timings) {
    const auto& V = bundle.vocabulary();
    // Dense piano: ~20 notes/s with an onset, an offset and a shift each, plus the tie section.
    auto requests = audio_window_requests(bundle, audio, window_s, timings, [&](double dur) {
        return step_limit(s, 64 + int(std::ceil(100.0 * dur)), V.max_length(Modality::Midi) - 1);
    });
    auto results = run_decode(bundle, task_spec(Task::Amt), requests, s, timings);
    std::vector<midi_tokens::Segment> segments;
    for (const auto& r : results) segments.push_back(V.to_midi(r.frames));
    return segments;
}

}  // namespace

Performance transcribe(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s, Timings* timings) {
    const double window_s = audio_window_s(bundle);
    // Where transcription is decoded: every decoding path gives one MIDI event segment per window.
    auto segments = decode_segments(bundle, audio, window_s, s, timings);
    StageTimer timer(timings, "stitch");
    return midi_tokens::decode(segments, window_s);
}

}  // namespace umt::tasks
