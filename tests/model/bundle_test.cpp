// Bundle verification through `umt info`: a good bundle prints its card; broken ones fail clearly.
#include <unistd.h>

#include <array>
#include <cstdio>

#include "model_fixture.hpp"
#include "umt/core/error.hpp"
#include "umt/model/bundle.hpp"

namespace umt {
namespace {

struct Run {
    int code;
    std::string out;
};

Run umt_info(const std::string& dir) {
    std::string cmd = std::string(UMT_EXE) + " info --threads 1 --models " + dir + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int status = pclose(p);
    return {WEXITSTATUS(status), out};
}

void set_manifest(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
    auto m = nlohmann::json::parse(read_file(dir + "/manifest.json"));
    edit(m);
    write_file_atomic(dir + "/manifest.json", m.dump(1));
}

void truncate_file(const std::string& path) {
    std::string bytes = read_file(path);
    write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Bundle, InfoPrintsTheCardOfAGoodBundle) {
    auto r = umt_info(testing::tiny_bundle());
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(contains(r.out, "translator.pt")) << r.out;
    EXPECT_TRUE(contains(r.out, "ok")) << r.out;
    EXPECT_TRUE(contains(r.out, "width 32")) << r.out;
}

TEST(Bundle, TruncatedModuleFailsTheHashCheck) {
    auto dir = testing::bundle_copy("trunc");
    truncate_file(dir + "/translator.pt");
    auto r = umt_info(dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.out, "translator.pt: SHA-256 mismatch")) << r.out;
    fs::remove_all(dir);
}

TEST(Bundle, TruncatedModuleWithMatchingHashFailsToLoad) {
    auto dir = testing::bundle_copy("trunc-rehash");
    truncate_file(dir + "/audio_codec.pt");
    std::string hash = model::sha256_hex(read_file(dir + "/audio_codec.pt"));
    set_manifest(dir, [&](nlohmann::json& m) { m["files"]["audio_codec.pt"]["sha256"] = hash; });
    auto r = umt_info(dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.out, "audio_codec.pt: not a loadable TorchScript codec")) << r.out;
    fs::remove_all(dir);
}

TEST(Bundle, EditedManifestIsRefused) {
    auto dir = testing::bundle_copy("edited");
    set_manifest(dir, [](nlohmann::json& m) { m["format_version"] = 99; });
    auto r = umt_info(dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.out, "bundle format version 99")) << r.out;

    set_manifest(dir, [](nlohmann::json& m) {
        m["format_version"] = 1;
        m["files"]["translator.pt"]["sha256"] = std::string(64, '0');
    });
    r = umt_info(dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.out, "SHA-256 mismatch")) << r.out;

    set_manifest(dir, [](nlohmann::json& m) { m["vocabulary"]["midi_size"] = 100; });
    EXPECT_THROW(model::ModelBundle b(dir), Error);

    write_file_atomic(dir + "/manifest.json", "{\"format\": \"umt-model-bundle\", ");
    r = umt_info(dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.out, "manifest.json: invalid JSON")) << r.out;
    fs::remove_all(dir);
}

TEST(Bundle, MissingFileAndMissingBundleAreNamed) {
    auto dir = testing::bundle_copy("missing");
    fs::remove(dir + "/image_codec.pt");
    auto r = umt_info(dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.out, "image_codec.pt: missing")) << r.out;
    fs::remove_all(dir);
    r = umt_info(dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.out, "no model bundle installed yet")) << r.out;
}

}  // namespace
}  // namespace umt
