// Transcription: the audio's windows (codec tokens, or the waveform for an A2I that hears features)
// through the decoding loop into MIDI event tokens, stitched into one note list; or the A2I's
// onsets-and-frames head over the whole waveform.
#include "umt/tasks/amt.hpp"

#include <algorithm>
#include <cmath>

#include "umt/core/error.hpp"
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

// The frame-head path: the waveform at the features' rate through the A2I's onsets-and-frames
// head (windows, peak picking and the note rule run inside the module), notes sorted by onset.
Performance decode_frames(model::ModelBundle& bundle, const Audio& audio, const TranscribeOptions& o,
                          Timings* timings) {
    auto& tr = bundle.translator(task_spec(Task::Amt).direction);
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

}  // namespace

TranscribeOptions transcribe_defaults(const model::ModelBundle& bundle) {
    TranscribeOptions o;
    if (hears_features(bundle)) o.decoder = "frames";
    const auto& amt = bundle.config().amt;
    o.decoder = amt.decoder.value_or(o.decoder);
    o.onset_threshold = amt.onset_threshold.value_or(o.onset_threshold);
    o.frame_threshold = amt.frame_threshold.value_or(o.frame_threshold);
    return o;
}

Performance transcribe(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s, Timings* timings,
                       const TranscribeOptions* options) {
    const TranscribeOptions o = options ? *options : transcribe_defaults(bundle);
    if (o.decoder != "frames" && o.decoder != "tokens")
        throw Error("the AMT decoder is \"" + o.decoder + "\": frames or tokens");
    if (o.decoder == "frames") return decode_frames(bundle, audio, o, timings);
    const double window_s = audio_window_s(bundle);
    // Where transcription is decoded by tokens: every window gives one MIDI event segment.
    auto segments = decode_segments(bundle, audio, window_s, s, timings);
    StageTimer timer(timings, "stitch");
    return midi_tokens::decode(segments, window_s);
}

}  // namespace umt::tasks
