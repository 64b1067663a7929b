// Audio I/O through libsndfile (read from memory, write via a temp file) and
// resampling through libsamplerate.
#include "umt/io/audio.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <samplerate.h>
#include <sndfile.h>
#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"

namespace umt {

namespace {

// libsndfile reads from memory through this cursor, so stdin and files share one path
// and read_file's checks (missing, folder, empty) come for free.
struct MemoryCursor {
    const std::string* bytes;
    sf_count_t pos = 0;
};

sf_count_t vio_length(void* user) { return sf_count_t(static_cast<MemoryCursor*>(user)->bytes->size()); }
sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
    auto* c = static_cast<MemoryCursor*>(user);
    sf_count_t size = sf_count_t(c->bytes->size());
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? c->pos : size;
    c->pos = std::clamp<sf_count_t>(base + offset, 0, size);
    return c->pos;
}
sf_count_t vio_read(void* ptr, sf_count_t count, void* user) {
    auto* c = static_cast<MemoryCursor*>(user);
    sf_count_t left = sf_count_t(c->bytes->size()) - c->pos;
    sf_count_t n = std::max<sf_count_t>(0, std::min(count, left));
    std::memcpy(ptr, c->bytes->data() + c->pos, size_t(n));
    c->pos += n;
    return n;
}
sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }
sf_count_t vio_tell(void* user) { return static_cast<MemoryCursor*>(user)->pos; }

std::string major_format_name(int format) {
    SF_FORMAT_INFO info{};
    info.format = format & SF_FORMAT_TYPEMASK;
    if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &info, sizeof(info)) == 0 && info.name) return info.name;
    return "unknown";
}

struct SndFile {
    SNDFILE* f = nullptr;
    ~SndFile() {
        if (f) sf_close(f);
    }
};

std::string display_name(const std::string& source) { return source == "-" ? "<stdin>" : source; }

int src_converter(ResampleQuality q) {
    switch (q) {
        case ResampleQuality::kBest: return SRC_SINC_BEST_QUALITY;
        case ResampleQuality::kFastest: return SRC_SINC_FASTEST;
        case ResampleQuality::kMedium: break;
    }
    return SRC_SINC_MEDIUM_QUALITY;
}

}  // namespace

bool audio_supports_mp3() {
    static const bool supported = [] {
        int count = 0;
        sf_command(nullptr, SFC_GET_FORMAT_MAJOR_COUNT, &count, sizeof(count));
        for (int i = 0; i < count; ++i) {
            SF_FORMAT_INFO info{};
            info.format = i;
            sf_command(nullptr, SFC_GET_FORMAT_MAJOR, &info, sizeof(info));
            if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG) return true;
        }
        return false;
    }();
    return supported;
}

bool audio_writes_mp3() {
    static const bool supported = [] {
        if (!audio_supports_mp3()) return false;
        SF_INFO info{};
        info.samplerate = 44100;
        info.channels = 1;
        info.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
        return sf_format_check(&info) != 0;
    }();
    return supported;
}

const std::vector<std::string>& audio_write_extensions() {
    static const std::vector<std::string> exts = [] {
        std::vector<std::string> e{"wav", "flac", "ogg", "oga"};
        if (audio_writes_mp3()) e.push_back("mp3");
        return e;
    }();
    return exts;
}

const std::vector<std::string>& audio_read_extensions() {
    static const std::vector<std::string> exts = [] {
        std::vector<std::string> e{"wav", "flac", "ogg", "oga", "aif", "aiff", "au"};
        if (audio_supports_mp3()) e.push_back("mp3");
        return e;
    }();
    return exts;
}

namespace {

// Opens bytes as a sound file; fills info. The MemoryCursor must outlive the handle.
SNDFILE* open_memory(MemoryCursor& cursor, SF_INFO& info, const std::string& source) {
    static SF_VIRTUAL_IO vio{vio_length, vio_seek, vio_read, vio_write, vio_tell};
    info = SF_INFO{};
    SNDFILE* f = sf_open_virtual(&vio, SFM_READ, &info, &cursor);
    if (!f) throw Error(display_name(source), std::string("not a readable audio file (") + sf_strerror(nullptr) + ")");
    if (info.channels <= 0 || info.samplerate <= 0) {
        sf_close(f);
        throw Error(display_name(source), "audio header has no channels or no sample rate");
    }
    return f;
}

}  // namespace

AudioInfo probe_audio(const std::string& path) {
    std::string bytes = read_file(path);
    MemoryCursor cursor{&bytes};
    SF_INFO info;
    SndFile f{open_memory(cursor, info, path)};
    return {info.samplerate, info.channels, int64_t(info.frames), major_format_name(info.format)};
}

Audio decode_audio(const std::string& bytes, const std::string& source, int target_rate_hz, ResampleQuality quality) {
    const std::string name = display_name(source);
    if (bytes.empty()) throw Error(name, "file is empty");
    MemoryCursor cursor{&bytes};
    SF_INFO info;
    SndFile f{open_memory(cursor, info, source)};
    const int ch = info.channels;
    Audio out;
    out.sample_rate_hz = info.samplerate;
    // Some formats (OGG, MP3) do not know their length up front: read in blocks until EOF.
    const sf_count_t block = 16384;
    std::vector<float> buf(size_t(block) * ch);
    if (info.frames > 0 && info.frames < (sf_count_t(1) << 34)) out.samples.reserve(size_t(info.frames));
    sf_count_t total = 0;
    for (;;) {
        sf_count_t got = sf_readf_float(f.f, buf.data(), block);
        if (got <= 0) break;
        total += got;
        for (sf_count_t i = 0; i < got; ++i) {
            float s = 0.f;
            for (int c = 0; c < ch; ++c) s += buf[size_t(i * ch + c)];
            out.samples.push_back(s / float(ch));
        }
    }
    if (sf_error(f.f) != SF_ERR_NO_ERROR) throw Error(name, std::string("audio decode error: ") + sf_strerror(f.f));
    if (total == 0) throw Error(name, "audio file holds no samples");
    // libsndfile quietly shortens a WAV/AIFF whose data chunk was cut off and notes it
    // in its log ("Length : N (should be M)"); a cut-off file is a damaged input, not a
    // shorter piece, so refuse it.
    char log[8192] = {0};
    sf_command(f.f, SFC_GET_LOG_INFO, log, sizeof(log));
    bool header_promises_more = info.frames > 0 && info.frames != SF_COUNT_MAX && total < info.frames;
    bool log_says_short = false;
    for (const char* p = std::strstr(log, "should be"); p && !log_says_short; p = std::strstr(p + 1, "should be")) {
        // "data : 14050432 (should be 99956)": the header's size, then what the file holds.
        const char* line = p;
        while (line > log && line[-1] != '\n') --line;
        std::string l(line, p);
        long holds = std::strtol(p + 9, nullptr, 10), header = 0;
        size_t colon = l.find(':');
        if (colon != std::string::npos) header = std::strtol(l.c_str() + colon + 1, nullptr, 10);
        // A one-byte difference is the pad byte of an odd-sized chunk, which is legal.
        if (header > holds + 1) log_says_short = true;
    }
    if (header_promises_more || log_says_short)
        throw Error(name, "audio file is truncated (the header promises more data than the file holds)");
    if (target_rate_hz > 0 && target_rate_hz != out.sample_rate_hz) out = resample(out, target_rate_hz, quality);
    return out;
}

Audio read_audio(const std::string& path, int target_rate_hz, ResampleQuality quality) {
    return decode_audio(read_file(path), path, target_rate_hz, quality);
}

Audio resample(const Audio& in, int target_rate_hz, ResampleQuality quality) {
    if (in.sample_rate_hz <= 0) throw Error("resample: input audio has no sample rate");
    if (target_rate_hz <= 0) throw Error("resample: target rate must be positive, got " + std::to_string(target_rate_hz));
    if (target_rate_hz == in.sample_rate_hz || in.samples.empty()) {
        Audio out = in;
        out.sample_rate_hz = target_rate_hz;
        return out;
    }
    const double ratio = double(target_rate_hz) / in.sample_rate_hz;
    if (!src_is_valid_ratio(ratio)) throw Error("resample: ratio " + std::to_string(ratio) + " is outside libsamplerate's range");
    Audio out;
    out.sample_rate_hz = target_rate_hz;
    out.samples.resize(size_t(std::ceil(double(in.samples.size()) * ratio)) + 16);
    SRC_DATA data{};
    data.data_in = in.samples.data();
    data.input_frames = long(in.samples.size());
    data.data_out = out.samples.data();
    data.output_frames = long(out.samples.size());
    data.src_ratio = ratio;
    int err = src_simple(&data, src_converter(quality), 1);
    if (err) throw Error(std::string("resample: ") + src_strerror(err));
    out.samples.resize(size_t(data.output_frames_gen));
    return out;
}

void write_audio(const Audio& audio, const std::string& path, const AudioWriteOptions& opts) {
    if (audio.sample_rate_hz <= 0) throw Error(path, "cannot write audio without a sample rate");
    const Audio* src = &audio;
    Audio converted;
    if (opts.sample_rate_hz > 0 && opts.sample_rate_hz != audio.sample_rate_hz) {
        converted = resample(audio, opts.sample_rate_hz, opts.quality);
        src = &converted;
    }
    // A stream without an extension (stdout, a pipe) gets WAV.
    std::string ext = extension_of(path).empty() && is_stream_output(path) ? "wav" : extension_of(path);
    int major = 0;
    if (ext == "wav") major = SF_FORMAT_WAV;
    else if (ext == "flac") major = SF_FORMAT_FLAC;
    else if (ext == "ogg" || ext == "oga") major = SF_FORMAT_OGG;
    else if (ext == "mp3" && audio_writes_mp3()) major = SF_FORMAT_MPEG;
    else
        throw Error(path, "unknown audio output format '." + ext + "' (use " +
                              (audio_writes_mp3() ? ".wav, .flac, .ogg or .mp3)" : ".wav, .flac or .ogg)"));
    int sub = 0;
    if (major == SF_FORMAT_OGG) sub = SF_FORMAT_VORBIS;
    else if (major == SF_FORMAT_MPEG) sub = SF_FORMAT_MPEG_LAYER_III;  // lossy: --bits does not apply
    else if (opts.bits == 16) sub = SF_FORMAT_PCM_16;
    else if (opts.bits == 24) sub = SF_FORMAT_PCM_24;
    else if (opts.bits == 32 && major == SF_FORMAT_WAV) sub = SF_FORMAT_FLOAT;
    else throw Error(path, "unsupported bit depth " + std::to_string(opts.bits) + " for ." + ext + " (16 or 24; 32 = float for WAV)");
    SF_INFO info{};
    info.samplerate = src->sample_rate_hz;
    info.channels = 1;
    info.format = major | sub;
    if (!sf_format_check(&info)) throw Error(path, "libsndfile cannot write this format/rate combination");
    write_via_temp(path, [&](const std::string& tmp) {
        SndFile f{sf_open(tmp.c_str(), SFM_WRITE, &info)};
        if (!f.f) throw Error(path, std::string("cannot open for writing: ") + sf_strerror(nullptr));
        // Clip in PCM formats ourselves: libsndfile would wrap around otherwise.
        if (sub != SF_FORMAT_FLOAT) sf_command(f.f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
        sf_count_t n = sf_count_t(src->samples.size());
        if (sf_writef_float(f.f, src->samples.data(), n) != n)
            throw Error(path, std::string("write failed: ") + sf_strerror(f.f));
        if (sf_close(f.f) != 0) {
            f.f = nullptr;
            throw Error(path, "cannot finish writing the audio file");
        }
        f.f = nullptr;
    });
}

}  // namespace umt
