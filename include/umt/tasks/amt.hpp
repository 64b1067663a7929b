// Automatic music transcription: audio -> windows -> MIDI event tokens -> notes.
#pragma once

#include "umt/core/performance.hpp"
#include "umt/core/timings.hpp"
#include "umt/io/audio.hpp"
#include "umt/model/bundle.hpp"
#include "umt/tasks/task_table.hpp"

namespace umt::tasks {

// Audio (any rate) -> model rate -> windows of audio_window_s -> MIDI event tokens (top-p by
// default) -> notes stitched through the tie sections.
Performance transcribe(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s,
                       Timings* timings = nullptr);

}  // namespace umt::tasks
