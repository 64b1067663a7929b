// The residual-VQ codecs of a bundle: score image systems <-> code grids, waveforms <-> code frames.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "umt/tokens/vocabulary.hpp"

namespace umt::model {

// Grayscale images with values in [0, 1] (1 = white), row-major.
struct GrayImage {
    int height = 0;
    int width = 0;
    std::vector<float> pixels;
};

class ImageCodec {
public:
    static constexpr int kDownsample = 16;
    explicit ImageCodec(const std::string& path);  // throws umt::Error(path, ...)
    ~ImageCodec();
    // Height and width must be multiples of 16: one code cell per 16 x 16 pixels.
    tokens::CodeGrid encode(const GrayImage& image) const;
    GrayImage decode(const tokens::CodeGrid& grid) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class AudioCodec {
public:
    AudioCodec(const std::string& path, int hop_samples);  // throws umt::Error(path, ...)
    ~AudioCodec();
    int hop_samples() const { return hop_; }
    // Mono samples at the codec's rate; padded with silence to a multiple of the hop.
    std::vector<tokens::AudioFrame> encode(const std::vector<float>& samples) const;
    std::vector<float> decode(const std::vector<tokens::AudioFrame>& frames) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int hop_;
};

}  // namespace umt::model
