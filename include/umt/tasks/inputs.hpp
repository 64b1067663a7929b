// What the tasks share around the decoding loop: system images read from pages (as codec grids or
// as pixels), audio cut into windows, step limits, the decode call with its log lines, and codec
// decoding of generated images.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "umt/core/timings.hpp"
#include "umt/io/audio.hpp"
#include "umt/model/bundle.hpp"
#include "umt/tasks/task_table.hpp"

namespace umt::tasks {

// ---- score images ----

// One staff group of a system (layout::StaffGroup: a voice staff, a piano's grand staff).
struct GroupImage {
    cv::Mat image;    // normalized like a system image (8-bit gray, sides multiples of 16)
    int staves = 0;   // staves found in it; 0 = not known (an image read whole)
};
// The normalized systems of every page of an image or PDF file: layout analysis at the bundle's
// staff height; when it finds no staves but the image is at most max_height code rows tall, the
// whole image is taken as one system (padded white). Throws umt::Error(path, ...) when there is
// nothing to read or a system is taller than the model takes.
std::vector<cv::Mat> read_systems(model::ModelBundle& bundle, const std::string& path, Timings* timings = nullptr);
// As read_systems, but each system as its staff groups, top to bottom, each normalized on its
// own; an image without staves is one group.
std::vector<std::vector<GroupImage>> read_staff_groups(model::ModelBundle& bundle, const std::string& path,
                                                       Timings* timings = nullptr);

// 8-bit gray system image <-> the codec's float image (1 = white paper).
model::GrayImage to_codec_image(const cv::Mat& gray);
cv::Mat from_codec_image(const model::GrayImage& image);

// Whether the bundle's translators read images as pixels (else as image codec tokens); throws
// umt::Error(manifest, ...) for an image input this umt does not drive.
bool reads_pixels(const model::ModelBundle& bundle);
// A normalized system as the pixel stem reads it (white padding to 16-pixel cells, ink = 255 - gray);
// throws umt::Error when it is taller than the model's rows of cells.
model::InkImage to_ink(const cv::Mat& gray, const tokens::Vocabulary& vocabulary);
// Several systems side by side, top-aligned, one blank cell between them (as the trainer joins an
// image->audio pair's systems).
model::InkImage side_by_side(const std::vector<model::InkImage>& images);

// The generated image grids of each result through the image codec; a result without one is
// skipped with a warning naming it "<what> <index>". Throws umt::Error when none gave an image.
std::vector<cv::Mat> decode_images(model::ModelBundle& bundle, const std::vector<model::DecodeResult>& results,
                                   Timings* timings, const char* what);

// ---- audio ----

// Whether the A2I hears audio as features (the waveform through its own log-mel stem; manifest
// modalities.audio.input "features"), else as audio codec tokens; throws umt::Error(manifest, ...)
// for an audio input this umt does not drive.
bool hears_features(const model::ModelBundle& bundle);
// The sample rate of the waveform a translator that hears features reads (modalities.audio.features);
// throws umt::Error when the bundle's audio input is not features.
int features_rate(const model::ModelBundle& bundle);

// The window length transcription and audio-to-image use: the MIDI segment length of the
// manifest (10 s), shortened when the model's audio length cannot hold it; for a bundle that
// hears features, the features' window_s.
double audio_window_s(const model::ModelBundle& bundle);
// Audio cut into windows of window_s (the last one shorter), one decode request each whose step
// limit max_steps(window seconds) chooses: codec tokens of the audio resampled to the codec's
// rate, or, when the bundle hears features, the waveform resampled to the features' rate.
// Throws umt::Error for an audio input this umt does not drive, or empty audio.
std::vector<model::DecodeRequest> audio_window_requests(model::ModelBundle& bundle, const Audio& audio,
                                                        double window_s, Timings* timings,
                                                        const std::function<int(double)>& max_steps);

// ---- decoding ----

// A request's step limit: --max-len when given, else `tied` (to the input's size), never above
// the model's output length.
int step_limit(const DecodeSettings& s, int tied, int model_max);
// The task's translator over the requests with the task's decoding options; logs looped and
// unfinished outputs.
std::vector<model::DecodeResult> run_decode(model::ModelBundle& bundle, const TaskSpec& spec,
                                            const std::vector<model::DecodeRequest>& requests, const DecodeSettings& s,
                                            Timings* timings);

}  // namespace umt::tasks
