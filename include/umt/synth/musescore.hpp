// The MuseScore 3 engraver (notation -> page image) the staged paths call, an external engine as
// FluidSynth is for audio: `umt engrave --engine musescore` and `umt a2i --pipeline staged`.
#pragma once

#include <opencv2/core.hpp>

#include "umt/core/score.hpp"
#include "umt/core/timings.hpp"

namespace umt::synth {

// Whether a MuseScore executable (mscore3, musescore3, mscore, musescore) is on PATH.
bool musescore_available();

// The score through MuseScore 3 (QT_QPA_PLATFORM=offscreen mscore3): every page it writes,
// stacked. Throws umt::Error saying what to install when MuseScore is missing.
cv::Mat engrave_musescore(const Score& score, Timings* timings = nullptr);

}  // namespace umt::synth
