// A model bundle folder: manifest.json (a model card with vocabulary, network, modalities, file
// hashes) and the TorchScript translator(s) and codecs it lists. The manifest is parsed and checked
// once, at load, into a BundleConfig; modules load lazily. The format: docs/DESIGN.md section 4.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "umt/model/codec.hpp"
#include "umt/model/translator.hpp"
#include "umt/tokens/vocabulary.hpp"

namespace umt::model {

constexpr int kBundleFormatVersion = 1;

// The two translator directions (docs/DESIGN.md section 4). Along the chain score image ->
// notation -> MIDI -> audio, one model translates toward audio (OMR, synthesis, image -> audio)
// and one toward the image (transcription, engraving, audio -> image). The manifest names them
// by the paper's model names, "i2a" and "a2i".
enum class Direction { TowardAudio, TowardImage };
const char* manifest_key(Direction direction);  // "i2a" / "a2i"

// modalities.audio.features: how a translator that hears features (audio input "features") reads
// audio: mono samples at sample_rate, log-mel frames of hop_samples and mel_bins computed inside
// the module, windows of window_s.
struct AudioFeatures {
    int sample_rate = 16000;
    int hop_samples = 0;
    int mel_bins = 0;
    double window_s = 0.0;
};

// The manifest's tasks.amt block (when "tasks" is an object): how AMT reads the A2I by default.
struct AmtDefaults {
    std::optional<std::string> decoder;  // "frames" or "tokens"
    std::optional<double> onset_threshold, frame_threshold;  // in (0, 1)
};

// What the tasks need to know of a bundle, read from its manifest once.
struct BundleConfig {
    std::string name = "?";
    // How the translators read a modality: "tokens" (its codec's), "pixels" (images through the
    // I2A's own stem) or "features"; which of them this umt drives is the tasks' decision.
    std::string image_input = "tokens";
    std::string audio_input = "tokens";
    std::optional<int> staff_height_px;  // modalities.image.staff_height_px
    int staff_bands = 0;                 // modalities.image.staff_bands: the band layout (layout::band_system), 0 = none
    std::optional<int> sample_rate_hz;   // modalities.audio.sample_rate
    std::optional<int> hop_samples;      // modalities.audio.hop_samples
    std::optional<double> midi_segment_s;  // modalities.midi.segment_s
    std::optional<AudioFeatures> audio_features;  // modalities.audio.features; set (and required) when audio_input is "features"
    AmtDefaults amt;  // tasks.amt
    std::optional<std::vector<std::string>> tasks;  // the manifest's "tasks" list, when it has one
    std::map<std::string, std::string> translators;  // manifest key ("i2a", "a2i") -> file name
    std::string image_codec_file, audio_codec_file;  // empty: the bundle has none

    // Throws umt::Error(manifest_path, ...) naming a malformed entry.
    static BundleConfig from_manifest(const nlohmann::json& manifest, const std::string& manifest_path);
    bool has_translator(Direction direction) const { return translators.count(manifest_key(direction)) > 0; }
};

class ModelBundle {
public:
    // Reads and checks manifest.json: format and version, vocabulary parameters (and their
    // compatibility with this build's LMX and MIDI vocabularies), and that every listed file
    // exists with its SHA-256. Throws umt::Error naming the file and the problem.
    explicit ModelBundle(const std::string& dir);
    ~ModelBundle();

    const std::string& dir() const { return dir_; }
    std::string manifest_path() const;
    const nlohmann::json& manifest() const { return manifest_; }  // the model card, as written
    const BundleConfig& config() const { return config_; }
    const tokens::Vocabulary& vocabulary() const { return *vocab_; }

    // Loaded on first use; throws umt::Error when the bundle has none or the file does not load.
    Translator& translator(Direction direction);
    ImageCodec& image_codec();
    AudioCodec& audio_codec();
    // Loads every module now (umt info proves that the files load, not only that hashes match).
    void load_all();

    // The manifest's modality settings; throw umt::Error naming the missing entry.
    int staff_height_px() const;
    int sample_rate() const;
    int hop_samples() const;

    // Human-readable model card for umt info.
    std::string summary() const;

private:
    std::string path_of(const std::string& file) const;
    Translator& translator_file(const std::string& file);
    std::string dir_;
    nlohmann::json manifest_;
    BundleConfig config_;
    std::unique_ptr<tokens::Vocabulary> vocab_;
    std::map<std::string, std::unique_ptr<Translator>> translators_;  // by file name
    std::unique_ptr<ImageCodec> image_codec_;
    std::unique_ptr<AudioCodec> audio_codec_;
};

}  // namespace umt::model
