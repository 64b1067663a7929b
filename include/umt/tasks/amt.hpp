// Automatic music transcription: audio -> windows -> MIDI event tokens -> notes, or, for an A2I
// that hears features, audio -> its onsets-and-frames head -> notes.
#pragma once

#include <string>

#include "umt/core/performance.hpp"
#include "umt/core/timings.hpp"
#include "umt/io/audio.hpp"
#include "umt/model/bundle.hpp"
#include "umt/tasks/task_table.hpp"

namespace umt::tasks {

// How AMT reads the A2I: "frames" = its onsets-and-frames head (peak picking and the note rule
// inside the module; a bundle whose audio input is "features"), "tokens" = the one decoding loop
// over windows stitched through tie sections. Defaults: the manifest's tasks.amt block.
struct TranscribeOptions {
    std::string decoder = "tokens";
    double onset_threshold = 0.5;  // frames: a note starts at an onset peak at least this likely
    double frame_threshold = 0.5;  // frames: and lasts while its key sounds at least this likely
};
// The bundle's defaults: decoder "frames" when its audio input is features, else "tokens", and
// whatever its tasks.amt block sets.
TranscribeOptions transcribe_defaults(const model::ModelBundle& bundle);

// Audio (any rate) -> model rate -> windows of audio_window_s -> MIDI event tokens (top-p by
// default) -> notes stitched through the tie sections; or, with the decoder "frames", the audio
// at the features' rate through the frame head. options = nullptr: transcribe_defaults(bundle).
// Throws umt::Error for an unknown decoder, or "frames" on a bundle without a frame head.
Performance transcribe(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s,
                       Timings* timings = nullptr, const TranscribeOptions* options = nullptr);

}  // namespace umt::tasks
