// Test helpers: a tiny random bundle exported by the Python side at test time, inputs, Python reference runs.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "umt/core/files.hpp"
#include "umt/io/lmx.hpp"
#include "umt/model/sha256.hpp"
#include "umt/model/translator.hpp"
#include "umt/tokens/midi_tokens.hpp"
#include "umt/tokens/vocabulary.hpp"

namespace umt::testing {

namespace fs = std::filesystem;

inline std::string python() { return "/usr/bin/python3"; }
inline std::string scripts_dir() { return std::string(UMT_SOURCE_DIR) + "/scripts"; }

inline int run(const std::string& cmd) { return std::system(cmd.c_str()); }

// Exports a random bundle with the given export flags once per version of the Python sources:
// ctest runs every test case in its own process, so the bundle is cached under the build
// folder, keyed by a hash of the exporter's sources and flags, and published with an atomic rename.
inline std::string cached_bundle(const std::string& key_prefix, const std::string& export_flags) {
    const std::string flags = export_flags + " --midi-size " + std::to_string(midi_tokens::vocab_size());
    std::string sources = flags;
    for (const auto& e : fs::directory_iterator(scripts_dir() + "/umt_model"))
        if (e.path().extension() == ".py") sources += read_file(e.path().string(), true);
    sources += read_file(scripts_dir() + "/export_bundle.py");
    for (const auto& t : lmx::vocabulary()) sources += t + "\n";
    std::string key = key_prefix + model::sha256_hex(sources).substr(0, 16);
    fs::path root = fs::path(UMT_BINARY_DIR) / "tests-model-bundles";
    fs::path dir = root / key;
    if (fs::exists(dir / "manifest.json")) return dir.string();
    fs::create_directories(root);
    fs::path tmp = root / (key + ".tmp" + std::to_string(::getpid()));
    fs::path vocab = root / (key + ".lmx" + std::to_string(::getpid()));
    {
        std::ofstream f(vocab);
        for (const auto& t : lmx::vocabulary()) f << t << "\n";
    }
    std::string cmd = python() + " " + scripts_dir() + "/export_bundle.py " + tmp.string() + flags + " --lmx-vocab " +
                      vocab.string();
    int rc = run(cmd);
    fs::remove(vocab);
    if (rc != 0) throw std::runtime_error("bundle export failed: " + cmd);
    std::error_code ec;
    fs::rename(tmp, dir, ec);
    if (ec) fs::remove_all(tmp);  // another process published it first
    return dir.string();
}

inline std::string tiny_bundle() {
    return cached_bundle("", " --width 32 --heads 2 --encoder-layers 1 --decoder-layers 2 --codebook-size 16"
                             " --max-length 64 --max-height 4 --end-bias 0.5 --rvq-end-bias 4.5");
}

// The tiny bundle whose image and audio codes also embed through their codec's codebook vectors
// (a fixed buffer and one learned projection), as the shipped translators' do.
inline std::string tiny_code_vectors_bundle() {
    return cached_bundle("codevec-", " --width 32 --heads 2 --encoder-layers 1 --decoder-layers 2 --codebook-size 16"
                                     " --max-length 64 --max-height 4 --end-bias 0.5 --code-vectors");
}

// The tiny bundle whose I2A reads images as pixels (a CNN stem, manifest image input "pixels").
inline std::string tiny_pixels_bundle() {
    return cached_bundle("pixels-", " --width 32 --heads 2 --encoder-layers 1 --decoder-layers 2 --codebook-size 16"
                                    " --max-length 64 --max-height 4 --end-bias 0.5 --image-stem pixels");
}

// The tiny bundle whose I2A reads pixels through the residual column CNN (BatchNorm with drawn
// statistics, one encoder position per 8-pixel column), the columns' sinusoids gated into its
// encoder input and its cross-attention keys and values (network.py column_sinusoids,
// cross_positions), and told at every step the column its attention peaked at on the step before
// (network.py locate: a state the decoding cache carries), its self-attention cut to the last 3
// tokens and the first 2 (network.py self_window, self_sink), and the copy path from a CTC head's
// column reading under its first head (network.py copy_ctc: an input's reading is the cross cache's
// last entry, which umt's loop must carry and cut as it does the keys and values), a dense head's
// probabilities joined to that reading (network.py copy_heads), and a rhythm branch from the CNN's
// second stage to the encoder's output (network.py rhythm). Seed 1: with the default seed the tiny
// decoder happens to write the same tokens for every image, and a test could not see the stem.
inline std::string tiny_pixels8_bundle() {
    return cached_bundle("pixels8-", " --width 32 --heads 2 --encoder-layers 1 --decoder-layers 2 --codebook-size 16"
                                     " --max-length 64 --max-height 4 --end-bias 0.5 --image-stem pixels8"
                                     " --column-sinusoids --cross-positions --locate 1 --self-window 3 --self-sink 2"
                                     " --aux-ctc 9 --copy-ctc 1 --aux-heads 4 --copy-heads --rhythm 4 --seed 1");
}

// The tiny bundle whose A2I hears audio features: the waveform through a log-mel stem, with a frame
// head and its harmonic-stack branch.
inline std::string tiny_mel_bundle() {
    return cached_bundle("mel-", " --width 32 --heads 2 --encoder-layers 1 --decoder-layers 2 --codebook-size 16"
                                 " --max-length 320 --max-height 4 --end-bias 0.5 --audio-stem mel --harmonic 4");
}

// A fresh copy of the tiny bundle that a test may damage.
inline std::string bundle_copy(const std::string& name) {
    fs::path dst = fs::temp_directory_path() / ("umt-model-test-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dst);
    fs::copy(tiny_bundle(), dst, fs::copy_options::recursive);
    return dst.string();
}

inline tokens::CodeGrid random_grid(int rows, int cols, int codebook, std::mt19937& rng) {
    tokens::CodeGrid g;
    g.rows = rows;
    g.cols = cols;
    g.codes.resize(size_t(rows) * cols);
    std::uniform_int_distribution<int> d(0, codebook - 1);
    for (auto& c : g.codes)
        for (auto& v : c) v = d(rng);
    return g;
}

inline std::vector<int> random_midi(int n, std::mt19937& rng) {
    std::uniform_int_distribution<int> d(0, midi_tokens::vocab_size() - 1);
    std::vector<int> ids(static_cast<size_t>(n));
    for (auto& v : ids) v = d(rng);
    return ids;
}

inline nlohmann::json frames_json(const std::vector<tokens::Frame>& frames) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& f : frames) j.push_back(f);
    return j;
}

// Greedy decoding of every input on its own by scripts/reference_decode.py.
inline std::vector<std::vector<tokens::Frame>> python_reference(const std::string& bundle, const std::string& target,
                                                                 const std::vector<tokens::Sequence>& inputs,
                                                                 int max_steps,
                                                                 const std::vector<tokens::Frame>& prefix = {},
                                                                 const std::vector<model::InkImage>& pixel_inputs = {}) {
    nlohmann::json req;
    req["direction"] = "i2a";
    req["target"] = target;
    req["max_steps"] = max_steps;
    req["prefix"] = frames_json(prefix);
    for (const auto& s : inputs) req["inputs"].push_back({{"frames", frames_json(s.frames)}, {"pos", s.pos}});
    for (const auto& im : pixel_inputs)
        req["inputs"].push_back({{"height", im.height}, {"width", im.width}, {"ink", im.ink}});
    fs::path base = fs::temp_directory_path() / ("umt-ref-" + std::to_string(::getpid()) + "-" + target);
    std::string in = base.string() + ".req.json", out = base.string() + ".out.json";
    write_file_atomic(in, req.dump());
    std::string cmd = python() + " " + scripts_dir() + "/reference_decode.py " + bundle + " " + in + " " + out;
    if (run(cmd) != 0) throw std::runtime_error("reference decoding failed: " + cmd);
    auto j = nlohmann::json::parse(read_file(out));
    fs::remove(in);
    fs::remove(out);
    std::vector<std::vector<tokens::Frame>> result;
    for (const auto& row : j["outputs"]) {
        std::vector<tokens::Frame> frames;
        for (const auto& f : row) frames.push_back(f.get<tokens::Frame>());
        result.push_back(frames);
    }
    return result;
}

}  // namespace umt::testing
