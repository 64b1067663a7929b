// TorchScript codec wrappers: code grids for score images, code frames for audio.
#include "umt/model/codec.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include "umt/core/error.hpp"

namespace umt::model {

namespace {

torch::jit::Module load_codec(const std::string& path) {
    torch::jit::Module m;
    try {
        m = torch::jit::load(path, torch::kCPU);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        throw Error(path, "not a loadable TorchScript codec (" + msg.substr(0, msg.find('\n')) + ")");
    }
    m.eval();
    m.to(torch::kFloat);  // bundles may store codec weights as float16
    for (const char* name : {"encode", "decode"})
        if (!m.find_method(name)) throw Error(path, std::string("the codec lacks the method ") + name);
    return m;
}

}  // namespace

struct ImageCodec::Impl {
    torch::jit::Module module;
};

ImageCodec::ImageCodec(const std::string& path) : impl_(std::make_unique<Impl>()) { impl_->module = load_codec(path); }
ImageCodec::~ImageCodec() = default;

tokens::CodeGrid ImageCodec::encode(const GrayImage& image) const {
    if (image.height <= 0 || image.width <= 0 || image.height % kDownsample || image.width % kDownsample)
        throw Error("image codec: the image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                    " pixels; both sides must be positive multiples of 16");
    if (image.pixels.size() != size_t(image.height) * size_t(image.width)) throw Error("image codec: pixel count mismatch");
    torch::NoGradGuard no_grad;
    auto x = torch::from_blob(const_cast<float*>(image.pixels.data()), {1, 1, image.height, image.width}, torch::kFloat).clone();
    auto codes = impl_->module.get_method("encode")({x}).toTensor().to(torch::kLong).contiguous();
    tokens::CodeGrid g;
    g.rows = int(codes.size(1));
    g.cols = int(codes.size(2));
    g.codes.resize(size_t(g.rows) * g.cols);
    const auto* p = codes.data_ptr<int64_t>();
    for (auto& cell : g.codes)
        for (int j = 0; j < tokens::kSlots; ++j) cell[j] = int(*p++);
    return g;
}

GrayImage ImageCodec::decode(const tokens::CodeGrid& grid) const {
    torch::NoGradGuard no_grad;
    auto codes = torch::empty({1, grid.rows, grid.cols, tokens::kSlots}, torch::kLong);
    auto* p = codes.data_ptr<int64_t>();
    for (const auto& cell : grid.codes)
        for (int j = 0; j < tokens::kSlots; ++j) *p++ = cell[j];
    auto img = impl_->module.get_method("decode")({codes}).toTensor().to(torch::kFloat).contiguous();
    GrayImage out;
    out.height = int(img.size(2));
    out.width = int(img.size(3));
    out.pixels.assign(img.data_ptr<float>(), img.data_ptr<float>() + img.numel());
    return out;
}

struct AudioCodec::Impl {
    torch::jit::Module module;
};

AudioCodec::AudioCodec(const std::string& path, int hop_samples) : impl_(std::make_unique<Impl>()), hop_(hop_samples) {
    if (hop_samples <= 0) throw Error(path, "the audio codec's hop must be positive");
    impl_->module = load_codec(path);
}
AudioCodec::~AudioCodec() = default;

std::vector<tokens::AudioFrame> AudioCodec::encode(const std::vector<float>& samples) const {
    size_t n = (samples.size() + size_t(hop_) - 1) / size_t(hop_) * size_t(hop_);
    if (n == 0) return {};
    torch::NoGradGuard no_grad;
    auto x = torch::zeros({1, int64_t(n)}, torch::kFloat);
    std::copy(samples.begin(), samples.end(), x.data_ptr<float>());
    auto codes = impl_->module.get_method("encode")({x}).toTensor().to(torch::kLong).contiguous();
    std::vector<tokens::AudioFrame> out(size_t(codes.size(1)));
    const auto* p = codes.data_ptr<int64_t>();
    for (auto& f : out)
        for (int j = 0; j < tokens::kSlots; ++j) f[j] = int(*p++);
    return out;
}

std::vector<float> AudioCodec::decode(const std::vector<tokens::AudioFrame>& frames) const {
    if (frames.empty()) return {};
    torch::NoGradGuard no_grad;
    auto codes = torch::empty({1, int64_t(frames.size()), tokens::kSlots}, torch::kLong);
    auto* p = codes.data_ptr<int64_t>();
    for (const auto& f : frames)
        for (int j = 0; j < tokens::kSlots; ++j) *p++ = f[j];
    auto wave = impl_->module.get_method("decode")({codes}).toTensor().to(torch::kFloat).contiguous();
    return std::vector<float>(wave.data_ptr<float>(), wave.data_ptr<float>() + wave.numel());
}

}  // namespace umt::model
