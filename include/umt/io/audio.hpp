// Audio files <-> mono float samples: libsndfile for the formats, libsamplerate for rates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace umt {

// Mono audio; samples nominally in [-1, 1].
struct Audio {
    int sample_rate_hz = 0;
    std::vector<float> samples;
    double duration_s() const { return sample_rate_hz > 0 ? double(samples.size()) / sample_rate_hz : 0.0; }
};

struct AudioInfo {
    int sample_rate_hz = 0;
    int channels = 0;
    int64_t frames = 0;
    std::string format;  // libsndfile's name of the major format, e.g. "WAV (Microsoft)"
};

// SINC_MEDIUM is the default: its ~97 dB SNR is far below anything a model or a
// listener notices, at a fraction of SINC_BEST's cost (see docs/results/media.md).
enum class ResampleQuality { kBest, kMedium, kFastest };

// File extensions read_audio accepts (lower case, no dot): wav flac ogg oga aif aiff
// au, plus mp3 when this libsndfile was built with MPEG support.
const std::vector<std::string>& audio_read_extensions();
bool audio_supports_mp3();
// File extensions write_audio writes: wav flac ogg oga, plus mp3 when this libsndfile can encode
// MPEG Layer III (built with LAME, as Debian's is).
const std::vector<std::string>& audio_write_extensions();
bool audio_writes_mp3();

// Header of an audio file; throws umt::Error naming the file when it is not audio.
AudioInfo probe_audio(const std::string& path);

// Reads any libsndfile format ("-" = stdin), mixes all channels down to mono (the
// mean), and resamples to target_rate_hz unless it is 0. Throws umt::Error naming
// the file on missing, empty, truncated or non-audio input.
Audio read_audio(const std::string& path, int target_rate_hz = 0,
                 ResampleQuality quality = ResampleQuality::kMedium);
// The same from bytes already in memory; `source` names them in errors.
Audio decode_audio(const std::string& bytes, const std::string& source, int target_rate_hz = 0,
                   ResampleQuality quality = ResampleQuality::kMedium);

// Band-limited sample rate conversion (libsamplerate). Same rate: a copy.
Audio resample(const Audio& in, int target_rate_hz, ResampleQuality quality = ResampleQuality::kMedium);

struct AudioWriteOptions {
    int sample_rate_hz = 0;  // 0 keeps the audio's rate; otherwise resampled first
    int bits = 16;           // 16 or 24 (PCM), 32 (float; WAV only)
    ResampleQuality quality = ResampleQuality::kMedium;
};

// Writes WAV, FLAC or OGG (Vorbis; bits ignored) chosen by the extension of `path`
// ("-" writes WAV to stdout), atomically. Samples outside [-1, 1] are clipped for PCM.
void write_audio(const Audio& audio, const std::string& path, const AudioWriteOptions& opts = {});

}  // namespace umt
