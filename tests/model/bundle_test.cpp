// Bundle verification through `umt info`: a good bundle prints its card; broken ones fail clearly.
#include <functional>
#include <string>

#include "../support/run_umt.hpp"
#include "model_fixture.hpp"
#include "umt/core/error.hpp"
#include "umt/model/bundle.hpp"
#include "umt/model/sha256.hpp"

namespace umt {
namespace {

testing::RunResult umt_info(const std::string& dir) {
    return testing::umt_run("info --threads 1 --models " + dir);
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

TEST(Sha256, KnownDigests) {
    // FIPS 180-2 test vectors, and one longer than a block.
    EXPECT_EQ(model::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(model::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(model::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(model::sha256_hex(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Bundle, InfoPrintsTheCardOfAGoodBundle) {
    auto r = umt_info(testing::tiny_bundle());
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "translator.pt")) << r.output;
    EXPECT_TRUE(contains(r.output, "ok")) << r.output;
    EXPECT_TRUE(contains(r.output, "width 32")) << r.output;
}

TEST(Bundle, TruncatedModuleFailsTheHashCheck) {
    auto dir = testing::bundle_copy("trunc");
    truncate_file(dir + "/translator.pt");
    auto r = umt_info(dir);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.output, "translator.pt: SHA-256 mismatch")) << r.output;
    fs::remove_all(dir);
}

TEST(Bundle, TruncatedModuleWithMatchingHashFailsToLoad) {
    auto dir = testing::bundle_copy("trunc-rehash");
    truncate_file(dir + "/audio_codec.pt");
    std::string hash = model::sha256_hex(read_file(dir + "/audio_codec.pt"));
    set_manifest(dir, [&](nlohmann::json& m) { m["files"]["audio_codec.pt"]["sha256"] = hash; });
    auto r = umt_info(dir);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.output, "audio_codec.pt: not a loadable TorchScript codec")) << r.output;
    fs::remove_all(dir);
}

TEST(Bundle, EditedManifestIsRefused) {
    auto dir = testing::bundle_copy("edited");
    set_manifest(dir, [](nlohmann::json& m) { m["format_version"] = 99; });
    auto r = umt_info(dir);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.output, "bundle format version 99")) << r.output;

    set_manifest(dir, [](nlohmann::json& m) {
        m["format_version"] = 1;
        m["files"]["translator.pt"]["sha256"] = std::string(64, '0');
    });
    r = umt_info(dir);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.output, "SHA-256 mismatch")) << r.output;

    set_manifest(dir, [](nlohmann::json& m) { m["vocabulary"]["midi_size"] = 100; });
    EXPECT_THROW(model::ModelBundle b(dir), Error);

    write_file_atomic(dir + "/manifest.json", "{\"format\": \"umt-model-bundle\", ");
    r = umt_info(dir);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.output, "manifest.json: invalid JSON")) << r.output;
    fs::remove_all(dir);
}

TEST(Bundle, MissingFileAndMissingBundleAreNamed) {
    auto dir = testing::bundle_copy("missing");
    fs::remove(dir + "/image_codec.pt");
    auto r = umt_info(dir);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.output, "image_codec.pt: missing")) << r.output;
    fs::remove_all(dir);
    r = umt_info(dir);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.output, "no model bundle installed yet")) << r.output;
}

}  // namespace
}  // namespace umt
