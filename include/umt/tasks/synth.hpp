// Neural synthesis: MIDI event tokens per window -> audio codes -> codec decode.
#pragma once

#include "umt/core/performance.hpp"
#include "umt/core/timings.hpp"
#include "umt/io/audio.hpp"
#include "umt/model/bundle.hpp"
#include "umt/tasks/task_table.hpp"

namespace umt::tasks {

struct SynthOptions {
    double window_s = 10.0;  // at most 10 s (the MIDI token shift range); shortened to fit the model
    double prime_s = 1.0;    // each window starts from this much of the last one's codes (0 = off:
                             // windows are then independent and decode in batches)
    double tail_s = 1.0;     // audio kept after the last note-off
};
// MIDI event tokens per window -> audio codes (seeded multinomial) -> codec decode, windows
// concatenated on their time grid; at the codec's sample rate.
Audio synthesize(model::ModelBundle& bundle, const Performance& perf, const DecodeSettings& s,
                 const SynthOptions& opts = {}, Timings* timings = nullptr);

}  // namespace umt::tasks
