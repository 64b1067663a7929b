// Audio I/O: round trips through real files in every writable format, mixing, resampling, bad files.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sndfile.h>

#include "umt/core/error.hpp"
#include "umt/io/audio.hpp"

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

fs::path temp_dir() {
    fs::path d = fs::temp_directory_path() / ("umt-audio-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

umt::Audio sine(double hz, int rate, double seconds, float amp = 0.5f) {
    umt::Audio a;
    a.sample_rate_hz = rate;
    a.samples.resize(size_t(seconds * rate));
    for (size_t i = 0; i < a.samples.size(); ++i) a.samples[i] = amp * float(std::sin(2 * kPi * hz * double(i) / rate));
    return a;
}

// Frequency from upward zero crossings (exact enough for a clean sine over a second).
double zero_crossing_hz(const umt::Audio& a) {
    std::vector<double> ups;
    for (size_t i = 1; i < a.samples.size(); ++i)
        if (a.samples[i - 1] < 0 && a.samples[i] >= 0)
            ups.push_back(double(i - 1) + a.samples[i - 1] / (a.samples[i - 1] - a.samples[i]));
    if (ups.size() < 2) return 0;
    return (ups.size() - 1) / ((ups.back() - ups.front()) / a.sample_rate_hz);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary);
    out << bytes;
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

struct RoundTrip {
    const char* ext;
    int bits;
    int rate;
    double tolerance;  // max abs sample error
};

class AudioRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(AudioRoundTrip, WriteThenReadGivesTheSameSignal) {
    const auto& p = GetParam();
    auto dir = temp_dir();
    auto path = (dir / (std::string("rt-") + std::to_string(p.bits) + "-" + std::to_string(p.rate) + "." + p.ext)).string();
    auto a = sine(440.0, p.rate, 0.5);
    umt::AudioWriteOptions w;
    w.bits = p.bits;
    umt::write_audio(a, path, w);
    auto info = umt::probe_audio(path);
    EXPECT_EQ(info.sample_rate_hz, p.rate);
    EXPECT_EQ(info.channels, 1);
    auto b = umt::read_audio(path);
    EXPECT_EQ(b.sample_rate_hz, p.rate);
    if (std::string(p.ext) == "ogg") {
        // Vorbis is lossy and may pad: compare length roughly and the pitch exactly enough.
        EXPECT_NEAR(double(b.samples.size()), double(a.samples.size()), p.rate * 0.05);
        EXPECT_NEAR(zero_crossing_hz(b), 440.0, 1.0);
    } else {
        ASSERT_EQ(b.samples.size(), a.samples.size());
        EXPECT_LT(max_abs_diff(a.samples, b.samples, a.samples.size()), p.tolerance);
    }
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Formats, AudioRoundTrip,
                         ::testing::Values(RoundTrip{"wav", 16, 16000, 1e-4}, RoundTrip{"wav", 16, 44100, 1e-4},
                                           RoundTrip{"wav", 24, 22050, 1e-6}, RoundTrip{"wav", 32, 48000, 1e-7},
                                           RoundTrip{"flac", 16, 16000, 1e-4}, RoundTrip{"flac", 24, 44100, 1e-6},
                                           RoundTrip{"ogg", 16, 44100, 0}, RoundTrip{"ogg", 16, 16000, 0}));

TEST(Audio, WriteAtAnotherRateResamples) {
    auto dir = temp_dir();
    auto path = (dir / "down.flac").string();
    umt::AudioWriteOptions w;
    w.sample_rate_hz = 16000;
    umt::write_audio(sine(1000.0, 44100, 1.0), path, w);
    auto b = umt::read_audio(path);
    EXPECT_EQ(b.sample_rate_hz, 16000);
    EXPECT_NEAR(double(b.samples.size()), 16000.0, 2.0);
    EXPECT_NEAR(zero_crossing_hz(b), 1000.0, 0.5);
    fs::remove_all(dir);
}

TEST(Audio, StereoIsMixedToMono) {
    auto dir = temp_dir();
    auto path = (dir / "stereo.wav").string();
    SF_INFO info{};
    info.samplerate = 8000;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr);
    std::vector<float> frames;
    for (int i = 0; i < 800; ++i) {
        frames.push_back(0.5f);   // left
        frames.push_back(-0.1f);  // right
    }
    sf_writef_float(f, frames.data(), 800);
    sf_close(f);
    auto a = umt::read_audio(path);
    ASSERT_EQ(a.samples.size(), 800u);
    for (float s : a.samples) EXPECT_NEAR(s, 0.2f, 1e-6);
    fs::remove_all(dir);
}

TEST(Audio, ResamplingKeepsASinesFrequencyAndDuration) {
    for (int target : {16000, 22050, 48000}) {
        auto in = sine(1234.5, 44100, 1.0);
        for (auto q : {umt::ResampleQuality::kBest, umt::ResampleQuality::kMedium}) {
            auto out = umt::resample(in, target, q);
            EXPECT_EQ(out.sample_rate_hz, target);
            EXPECT_NEAR(double(out.samples.size()), double(target), 2.0) << target;
            EXPECT_NEAR(zero_crossing_hz(out), 1234.5, 0.2) << target;
            // Amplitude survives too (skip the filter's edges).
            float peak = 0;
            for (size_t i = out.samples.size() / 4; i < out.samples.size() * 3 / 4; ++i)
                peak = std::max(peak, std::fabs(out.samples[i]));
            EXPECT_NEAR(peak, 0.5f, 0.01f);
        }
    }
}

TEST(Audio, ReadWithTargetRate) {
    auto dir = temp_dir();
    auto path = (dir / "a.wav").string();
    umt::write_audio(sine(500.0, 48000, 0.5), path);
    auto a = umt::read_audio(path, 16000);
    EXPECT_EQ(a.sample_rate_hz, 16000);
    EXPECT_NEAR(double(a.samples.size()), 8000.0, 2.0);
    fs::remove_all(dir);
}

TEST(Audio, Mp3WhenLibsndfileSupportsIt) {
    if (!umt::audio_supports_mp3()) GTEST_SKIP() << "this libsndfile has no MPEG support";
    auto dir = temp_dir();
    auto path = (dir / "a.mp3").string();
    SF_INFO info{};
    info.samplerate = 44100;
    info.channels = 1;
    info.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    if (!sf_format_check(&info)) GTEST_SKIP() << "this libsndfile reads MP3 but cannot write one for the test";
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr);
    auto s = sine(440.0, 44100, 1.0);
    sf_writef_float(f, s.samples.data(), sf_count_t(s.samples.size()));
    sf_close(f);
    auto a = umt::read_audio(path);
    EXPECT_EQ(a.sample_rate_hz, 44100);
    EXPECT_NEAR(a.duration_s(), 1.0, 0.1);
    EXPECT_NEAR(zero_crossing_hz(a), 440.0, 2.0);
    fs::remove_all(dir);
}

TEST(Audio, Mp3IsWrittenWhereLibsndfileEncodesIt) {
    auto dir = temp_dir();
    auto path = (dir / "a.mp3").string();
    if (!umt::audio_writes_mp3()) {
        EXPECT_THROW(umt::write_audio(sine(440.0, 44100, 1.0), path), umt::Error);
        fs::remove_all(dir);
        GTEST_SKIP() << "this libsndfile cannot encode MP3";
    }
    umt::write_audio(sine(440.0, 22050, 1.0), path);
    auto a = umt::read_audio(path);
    EXPECT_EQ(a.sample_rate_hz, 22050);
    EXPECT_NEAR(a.duration_s(), 1.0, 0.1);
    EXPECT_NEAR(zero_crossing_hz(a), 440.0, 2.0);
    fs::remove_all(dir);
}

TEST(Audio, BadFilesGiveAnErrorNamingTheFile) {
    auto dir = temp_dir();
    auto good = (dir / "good.wav").string();
    umt::write_audio(sine(440.0, 16000, 1.0), good);
    std::string bytes = read_bytes(good);

    auto expect_error = [](const std::string& path, const std::string& what) {
        try {
            umt::read_audio(path);
            ADD_FAILURE() << "no error for " << path;
        } catch (const umt::Error& e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    auto truncated = (dir / "truncated.wav").string();
    write_bytes(truncated, bytes.substr(0, bytes.size() / 2));
    expect_error(truncated, "truncated");
    auto header_only = (dir / "header.wav").string();
    write_bytes(header_only, bytes.substr(0, 30));
    expect_error(header_only, "not a readable audio file");
    auto empty = (dir / "empty.wav").string();
    write_bytes(empty, "");
    expect_error(empty, "empty");
    auto text = (dir / "text.flac").string();
    write_bytes(text, "this is not audio at all, just some words in a file\n");
    expect_error(text, "not a readable audio file");
    expect_error((dir / "missing.wav").string(), "no such file");
    fs::remove_all(dir);
}

TEST(Audio, FailedWriteLeavesNoFile) {
    auto dir = temp_dir();
    auto a = sine(440.0, 16000, 0.1);
    EXPECT_THROW(umt::write_audio(a, (dir / "x.mp4").string()), umt::Error);
    umt::AudioWriteOptions w;
    w.bits = 12;
    EXPECT_THROW(umt::write_audio(a, (dir / "x.wav").string(), w), umt::Error);
    EXPECT_TRUE(fs::is_empty(dir));
    fs::remove_all(dir);
}
