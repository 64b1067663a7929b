// A model bundle folder: manifest.json (a model card with vocabulary, network, modalities, file
// hashes) and the TorchScript translator(s) and codecs it lists. Checked at load; modules load lazily.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "umt/model/codec.hpp"
#include "umt/model/translator.hpp"
#include "umt/tokens/vocabulary.hpp"

namespace umt::model {

constexpr int kBundleFormatVersion = 1;

class ModelBundle {
public:
    // Reads and checks manifest.json: format and version, vocabulary parameters (and their
    // compatibility with this build's LMX and MIDI vocabularies), and that every listed file
    // exists with its SHA-256. Throws umt::Error naming the file and the problem.
    explicit ModelBundle(const std::string& dir);
    ~ModelBundle();

    const std::string& dir() const { return dir_; }
    const nlohmann::json& manifest() const { return manifest_; }
    const tokens::Vocabulary& vocabulary() const { return *vocab_; }

    // "i2a" (inputs image or MIDI; outputs LMX or audio) or "a2i" (inputs audio or LMX; outputs
    // image or MIDI). Loaded on first use; throws umt::Error when the file does not load.
    Translator& translator(const std::string& direction);
    ImageCodec& image_codec();
    AudioCodec& audio_codec();
    // Loads every module now (umt info proves that the files load, not only that hashes match).
    void load_all();

    int staff_height_px() const;
    int sample_rate() const;
    int hop_samples() const;

    // Human-readable model card for umt info.
    std::string summary() const;

private:
    std::string path_of(const std::string& file) const;
    std::string dir_;
    nlohmann::json manifest_;
    std::unique_ptr<tokens::Vocabulary> vocab_;
    std::map<std::string, std::unique_ptr<Translator>> translators_;  // by file name
    std::unique_ptr<ImageCodec> image_codec_;
    std::unique_ptr<AudioCodec> audio_codec_;
};

}  // namespace umt::model
