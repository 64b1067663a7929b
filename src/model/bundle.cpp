// Model bundle loading and verification: manifest checks, SHA-256 of every file, lazy module loading.
#include "umt/model/bundle.hpp"

#include <filesystem>
#include <sstream>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/model/sha256.hpp"

namespace umt::model {

namespace fs = std::filesystem;

ModelBundle::ModelBundle(const std::string& dir) : dir_(dir) {
    const std::string mpath = (fs::path(dir) / "manifest.json").string();
    if (!fs::exists(mpath)) throw Error(dir, "not a model bundle (no manifest.json)");
    try {
        manifest_ = nlohmann::json::parse(read_file(mpath));
    } catch (const nlohmann::json::exception& e) {
        throw Error(mpath, std::string("invalid JSON (") + e.what() + ")");
    }
    if (!manifest_.is_object() || manifest_.value("format", "") != "umt-model-bundle")
        throw Error(mpath, "not a umt model bundle manifest (\"format\" is not \"umt-model-bundle\")");
    if (!manifest_.contains("format_version") || !manifest_["format_version"].is_number_integer())
        throw Error(mpath, "the manifest has no format_version");
    int version = manifest_["format_version"].get<int>();
    if (version != kBundleFormatVersion)
        throw Error(mpath, "bundle format version " + std::to_string(version) + ", this umt reads version " +
                               std::to_string(kBundleFormatVersion));
    vocab_ = std::make_unique<tokens::Vocabulary>(
        tokens::VocabularyParams::from_json(manifest_.value("vocabulary", nlohmann::json()), mpath));
    vocab_->check_compatible(mpath);
    if (manifest_.contains("vocabulary_size") && manifest_["vocabulary_size"] != vocab_->size())
        throw Error(mpath, "vocabulary_size " + manifest_["vocabulary_size"].dump() + " disagrees with the layout (" +
                               std::to_string(vocab_->size()) + ")");
    if (!manifest_.contains("files") || !manifest_["files"].is_object() || manifest_["files"].empty())
        throw Error(mpath, "the manifest lists no files");
    for (const char* section : {"translators", "codecs"}) {
        if (!manifest_.contains(section) || !manifest_[section].is_object())
            throw Error(mpath, std::string("the manifest has no \"") + section + "\" object");
        for (const auto& [key, file] : manifest_[section].items())
            if (!file.is_string() || !manifest_["files"].contains(file.get<std::string>()))
                throw Error(mpath, std::string(section) + "." + key + " names a file that the file list lacks");
    }
    for (const auto& [name, entry] : manifest_["files"].items()) {
        if (name.find('/') != std::string::npos || name.find("..") != std::string::npos)
            throw Error(mpath, "file name \"" + name + "\" must be a plain name inside the bundle");
        std::string expected = entry.is_object() ? entry.value("sha256", "") : "";
        if (expected.size() != 64) throw Error(mpath, "no sha256 for " + name);
        std::string path = path_of(name);
        if (!fs::exists(path)) throw Error(path, "missing: the manifest lists it but the bundle lacks it");
        std::string got = sha256_file(path);
        if (got != expected)
            throw Error(path, "SHA-256 mismatch (the manifest says " + expected.substr(0, 12) + "..., the file has " +
                                  got.substr(0, 12) + "...): the file is damaged or the manifest was edited");
    }
    config_ = BundleConfig::from_manifest(manifest_, mpath);
}

ModelBundle::~ModelBundle() = default;

const char* manifest_key(Direction direction) { return direction == Direction::TowardAudio ? "i2a" : "a2i"; }

namespace {

// An optional entry modalities.<modality>.<key>; null when the manifest lacks it.
const nlohmann::json* modality_entry(const nlohmann::json& m, const char* modality, const char* key) {
    if (!m.contains("modalities") || !m["modalities"].contains(modality) || !m["modalities"][modality].contains(key))
        return nullptr;
    return &m["modalities"][modality][key];
}

std::optional<int> modality_int(const nlohmann::json& m, const char* modality, const char* key) {
    const auto* e = modality_entry(m, modality, key);
    if (!e || !e->is_number_integer()) return std::nullopt;
    return e->get<int>();
}

std::string input_of(const nlohmann::json& m, const char* modality, const std::string& mpath) {
    const auto* e = modality_entry(m, modality, "input");
    if (!e) return "tokens";
    if (!e->is_string()) throw Error(mpath, std::string("modalities.") + modality + ".input must be a string");
    return e->get<std::string>();
}

// modalities.audio.features, every entry a positive number (the integers integral).
AudioFeatures features_of(const nlohmann::json& m, const std::string& mpath) {
    const auto* e = modality_entry(m, "audio", "features");
    if (!e) throw Error(mpath, "the audio input is \"features\" but the manifest lacks modalities.audio.features");
    if (!e->is_object()) throw Error(mpath, "modalities.audio.features must be an object");
    auto positive_int = [&](const char* key) {
        const auto it = e->find(key);
        if (it == e->end() || !it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > 1000000)
            throw Error(mpath, std::string("modalities.audio.features.") + key + " must be a positive integer");
        return it->get<int>();
    };
    AudioFeatures f;
    f.sample_rate = positive_int("sample_rate");
    f.hop_samples = positive_int("hop_samples");
    f.mel_bins = positive_int("mel_bins");
    const auto it = e->find("window_s");
    if (it == e->end() || !it->is_number() || !(it->get<double>() > 0.0))
        throw Error(mpath, "modalities.audio.features.window_s must be a positive number of seconds");
    f.window_s = it->get<double>();
    if (f.window_s * f.sample_rate < f.hop_samples)
        throw Error(mpath, "modalities.audio.features.window_s is shorter than one hop");
    return f;
}

AmtDefaults amt_of(const nlohmann::json& m, const std::string& mpath) {
    AmtDefaults a;
    if (!m.contains("tasks") || !m["tasks"].is_object() || !m["tasks"].contains("amt")) return a;
    const auto& e = m["tasks"]["amt"];
    if (!e.is_object()) throw Error(mpath, "tasks.amt must be an object");
    if (e.contains("decoder")) {
        if (!e["decoder"].is_string() || (e["decoder"] != "frames" && e["decoder"] != "tokens"))
            throw Error(mpath, "tasks.amt.decoder must be \"frames\" or \"tokens\"");
        a.decoder = e["decoder"].get<std::string>();
    }
    for (auto [key, slot] : {std::pair{"onset_threshold", &a.onset_threshold}, std::pair{"frame_threshold", &a.frame_threshold}}) {
        if (!e.contains(key)) continue;
        if (!e[key].is_number() || !(e[key].get<double>() > 0.0 && e[key].get<double>() < 1.0))
            throw Error(mpath, std::string("tasks.amt.") + key + " must be a number between 0 and 1");
        *slot = e[key].get<double>();
    }
    return a;
}

}  // namespace

BundleConfig BundleConfig::from_manifest(const nlohmann::json& m, const std::string& mpath) {
    BundleConfig c;
    if (m.contains("name") && m["name"].is_string()) c.name = m["name"].get<std::string>();
    c.image_input = input_of(m, "image", mpath);
    c.audio_input = input_of(m, "audio", mpath);
    c.staff_height_px = modality_int(m, "image", "staff_height_px");
    if (const auto* e = modality_entry(m, "image", "staff_bands")) {
        if (!e->is_number_integer() || e->get<int>() < 0 || e->get<int>() > 16)
            throw Error(mpath, "modalities.image.staff_bands must be a whole number of staff spaces, 0..16");
        c.staff_bands = e->get<int>();
    }
    c.sample_rate_hz = modality_int(m, "audio", "sample_rate");
    c.hop_samples = modality_int(m, "audio", "hop_samples");
    if (const auto* e = modality_entry(m, "midi", "segment_s")) {
        if (!e->is_number()) throw Error(mpath, "modalities.midi.segment_s must be a number of seconds");
        c.midi_segment_s = e->get<double>();
    }
    if (c.audio_input == "features") c.audio_features = features_of(m, mpath);
    c.amt = amt_of(m, mpath);
    if (m.contains("tasks") && m["tasks"].is_array()) {
        c.tasks.emplace();
        for (const auto& t : m["tasks"])
            if (t.is_string()) c.tasks->push_back(t.get<std::string>());
    }
    for (const auto& [key, file] : m["translators"].items()) c.translators[key] = file.get<std::string>();
    if (m["codecs"].contains("image")) c.image_codec_file = m["codecs"]["image"].get<std::string>();
    if (m["codecs"].contains("audio")) c.audio_codec_file = m["codecs"]["audio"].get<std::string>();
    return c;
}

std::string ModelBundle::path_of(const std::string& file) const { return (fs::path(dir_) / file).string(); }
std::string ModelBundle::manifest_path() const { return path_of("manifest.json"); }

Translator& ModelBundle::translator_file(const std::string& file) {
    auto& slot = translators_[file];
    if (!slot) slot = std::make_unique<Translator>(path_of(file), *vocab_);
    return *slot;
}

Translator& ModelBundle::translator(Direction direction) {
    auto it = config_.translators.find(manifest_key(direction));
    if (it == config_.translators.end())
        throw Error(manifest_path(), std::string("the bundle has no translator for the ") + manifest_key(direction) +
                                         " direction");
    return translator_file(it->second);
}

ImageCodec& ModelBundle::image_codec() {
    if (!image_codec_) {
        if (config_.image_codec_file.empty()) throw Error(manifest_path(), "the bundle has no image codec");
        image_codec_ = std::make_unique<ImageCodec>(path_of(config_.image_codec_file));
    }
    return *image_codec_;
}

AudioCodec& ModelBundle::audio_codec() {
    if (!audio_codec_) {
        if (config_.audio_codec_file.empty()) throw Error(manifest_path(), "the bundle has no audio codec");
        audio_codec_ = std::make_unique<AudioCodec>(path_of(config_.audio_codec_file), hop_samples());
    }
    return *audio_codec_;
}

void ModelBundle::load_all() {
    for (const auto& [key, file] : config_.translators) translator_file(file);
    if (!config_.image_codec_file.empty()) image_codec();
    if (!config_.audio_codec_file.empty()) audio_codec();
}

namespace {

int required(const std::optional<int>& value, const char* entry, const std::string& mpath) {
    if (!value) throw Error(mpath, std::string("the manifest lacks modalities.") + entry);
    return *value;
}

}  // namespace

int ModelBundle::staff_height_px() const { return required(config_.staff_height_px, "image.staff_height_px", manifest_path()); }
int ModelBundle::sample_rate() const { return required(config_.sample_rate_hz, "audio.sample_rate", manifest_path()); }
int ModelBundle::hop_samples() const { return required(config_.hop_samples, "audio.hop_samples", manifest_path()); }

std::string ModelBundle::summary() const {
    std::ostringstream o;
    const auto& m = manifest_;
    const auto& v = *vocab_;
    o << "bundle:      " << dir_ << "\n";
    o << "name:        " << m.value("name", "?") << " (format version " << m["format_version"] << ", exported with torch "
      << m.value("torch_version", "?") << ")\n";
    if (m.contains("network") && m["network"].value("width", 0) > 0) {
        const auto& n = m["network"];
        o << "network:     width " << n.value("width", 0) << ", " << n.value("heads", 0) << " heads, "
          << n.value("encoder_layers", 0) << "+" << n.value("decoder_layers", 0) << " layers, sub-decoder "
          << n.value("sub_layers", 0) << " layer, feed-forward " << n.value("ffn", 0) << "\n";
    }
    o << "vocabulary:  " << v.size() << " ids (LMX " << v.codebook_size(tokens::Modality::Lmx) << ", MIDI "
      << v.codebook_size(tokens::Modality::Midi) << ", image 4 x " << v.codebook_size(tokens::Modality::Image)
      << ", audio 4 x " << v.codebook_size(tokens::Modality::Audio) << ", heights 1.." << v.max_height() << ")\n";
    o << "max lengths: lmx " << v.max_length(tokens::Modality::Lmx) << ", midi " << v.max_length(tokens::Modality::Midi)
      << ", image " << v.max_length(tokens::Modality::Image) << " (" << v.pos_range(tokens::Modality::Image)
      << " columns), audio " << v.max_length(tokens::Modality::Audio) << " frames\n";
    if (m.contains("modalities")) {
        const auto& md = m["modalities"];
        o << "image:       staff height " << md["image"].value("staff_height_px", 0) << " px";
        if (md["image"].value("staff_bands", 0) > 0)
            o << ", staff bands " << md["image"].value("staff_bands", 0) << " spaces (umt systems --staff-bands)";
        o << ", input " << md["image"].value("input", "?") << "\n";
        o << "audio:       " << md["audio"].value("sample_rate", 0) << " Hz, hop " << md["audio"].value("hop_samples", 0)
          << " samples, input " << md["audio"].value("input", "?") << "\n";
    }
    for (const auto& [dir, file] : m["translators"].items()) {
        o << "translator:  " << dir << " -> " << file.get<std::string>();
        // input-side options a direction may set for itself (scripts/export_translators.py)
        if (m.contains("networks") && m["networks"].contains(dir)) {
            const auto& n = m["networks"][dir];
            o << " (image stem " << n.value("image_stem", "frames")
              << (n.value("code_vectors", false) ? ", codes also embed through codec vectors" : "") << ")";
        }
        o << "\n";
    }
    for (const auto& [kind, file] : m["codecs"].items()) o << "codec:       " << kind << " -> " << file.get<std::string>() << "\n";
    for (const auto& [name, entry] : m["files"].items())
        o << "file:        " << name << "  " << entry.value("bytes", 0) << " bytes  sha256 " << entry.value("sha256", "")
          << "  ok\n";
    if (m.contains("training")) o << "training:    " << m["training"].dump() << "\n";
    if (m.contains("metrics")) o << "metrics:     " << m["metrics"].dump() << "\n";
    return o.str();
}

}  // namespace umt::model
