// The far translations of the paper: score image -> audio and audio -> score image, in one step.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "umt/core/timings.hpp"
#include "umt/io/audio.hpp"
#include "umt/model/bundle.hpp"
#include "umt/tasks/task_table.hpp"

namespace umt::tasks {

// Image tokens (or pixels) of one or two systems per call -> audio codes -> codec decode, concatenated.
Audio image_to_audio(model::ModelBundle& bundle, const std::vector<cv::Mat>& systems, const DecodeSettings& s,
                     int systems_per_call = 2, Timings* timings = nullptr);
// Audio windows -> image tokens with height tokens -> codec decode: the generated systems.
std::vector<cv::Mat> audio_to_image(model::ModelBundle& bundle, const Audio& audio, const DecodeSettings& s,
                                    Timings* timings = nullptr);

}  // namespace umt::tasks
