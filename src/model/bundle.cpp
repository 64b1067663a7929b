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
        std::string got = sha256_hex(read_file(path, true));
        if (got != expected)
            throw Error(path, "SHA-256 mismatch (the manifest says " + expected.substr(0, 12) + "..., the file has " +
                                  got.substr(0, 12) + "...): the file is damaged or the manifest was edited");
    }
}

ModelBundle::~ModelBundle() = default;

std::string ModelBundle::path_of(const std::string& file) const { return (fs::path(dir_) / file).string(); }

Translator& ModelBundle::translator(const std::string& direction) {
    const auto& t = manifest_["translators"];
    if (!t.contains(direction))
        throw Error(path_of("manifest.json"), "the bundle has no translator for the " + direction + " direction");
    std::string file = t[direction].get<std::string>();
    auto& slot = translators_[file];
    if (!slot) slot = std::make_unique<Translator>(path_of(file), *vocab_);
    return *slot;
}

ImageCodec& ModelBundle::image_codec() {
    if (!image_codec_) {
        if (!manifest_["codecs"].contains("image")) throw Error(path_of("manifest.json"), "the bundle has no image codec");
        image_codec_ = std::make_unique<ImageCodec>(path_of(manifest_["codecs"]["image"].get<std::string>()));
    }
    return *image_codec_;
}

AudioCodec& ModelBundle::audio_codec() {
    if (!audio_codec_) {
        if (!manifest_["codecs"].contains("audio")) throw Error(path_of("manifest.json"), "the bundle has no audio codec");
        audio_codec_ = std::make_unique<AudioCodec>(path_of(manifest_["codecs"]["audio"].get<std::string>()), hop_samples());
    }
    return *audio_codec_;
}

void ModelBundle::load_all() {
    for (const auto& [direction, file] : manifest_["translators"].items()) translator(direction);
    if (manifest_["codecs"].contains("image")) image_codec();
    if (manifest_["codecs"].contains("audio")) audio_codec();
}

namespace {

int modality_int(const nlohmann::json& m, const char* modality, const char* key, const std::string& mpath) {
    if (!m.contains("modalities") || !m["modalities"].contains(modality) || !m["modalities"][modality].contains(key) ||
        !m["modalities"][modality][key].is_number_integer())
        throw Error(mpath, std::string("the manifest lacks modalities.") + modality + "." + key);
    return m["modalities"][modality][key].get<int>();
}

}  // namespace

int ModelBundle::staff_height_px() const { return modality_int(manifest_, "image", "staff_height_px", path_of("manifest.json")); }
int ModelBundle::sample_rate() const { return modality_int(manifest_, "audio", "sample_rate", path_of("manifest.json")); }
int ModelBundle::hop_samples() const { return modality_int(manifest_, "audio", "hop_samples", path_of("manifest.json")); }

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
        o << "image:       staff height " << md["image"].value("staff_height_px", 0) << " px, input "
          << md["image"].value("input", "?") << "\n";
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
