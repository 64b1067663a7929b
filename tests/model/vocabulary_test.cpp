// The unified vocabulary: the golden layout written by Python, frame builders and positions.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/lmx.hpp"
#include "umt/tokens/midi_tokens.hpp"
#include "umt/tokens/vocabulary.hpp"

namespace umt::tokens {
namespace {

nlohmann::json golden() {
    return nlohmann::json::parse(read_file(std::string(UMT_SOURCE_DIR) + "/tests/data/model/vocab_layout.json"));
}

Vocabulary small_vocab(int image_frames = 128) {
    VocabularyParams p;
    p.lmx_size = 224;
    p.midi_size = midi_tokens::vocab_size();
    p.image_codebook_size = 8;
    p.audio_codebook_size = 8;
    p.max_height = 4;
    p.max_lengths = {64, 64, image_frames, 64, 16};
    return Vocabulary(p);
}

TEST(VocabularyLayout, MatchesThePythonGoldenFile) {
    auto g = golden();
    auto params = VocabularyParams::from_json(g["params"], "vocab_layout.json");
    Vocabulary v(params);
    auto cpp = v.layout_json();
    for (const auto& [key, value] : cpp.items()) {
        ASSERT_TRUE(g.contains(key)) << key;
        EXPECT_EQ(g[key], value) << "field " << key;
    }
    for (const auto& [key, value] : g.items())
        if (key != "params") EXPECT_TRUE(cpp.contains(key)) << "C++ lacks " << key;
}

TEST(VocabularyLayout, GoldenParametersAreThisBuildsTokenBlocks) {
    Vocabulary v(VocabularyParams::from_json(golden()["params"], "vocab_layout.json"));
    EXPECT_NO_THROW(v.check_compatible("vocab_layout.json"));
    EXPECT_EQ(v.codebook_size(Modality::Lmx), int(lmx::vocabulary().size()));
    EXPECT_EQ(v.codebook_size(Modality::Midi), midi_tokens::vocab_size());
}

TEST(VocabularyLayout, RvqCodesFollowTheDesignFormula) {
    auto v = small_vocab();
    for (Modality m : {Modality::Image, Modality::Audio})
        for (int j = 0; j < kSlots; ++j)
            for (int c : {0, 3, 7}) {
                int64_t id = v.code(m, j, c);
                EXPECT_EQ(id, v.block_start(m) + j * (8 + kNumSpecial) + c);
                EXPECT_EQ(v.value_of(m, j, id), c);
                EXPECT_EQ(v.value_of(m, (j + 1) % kSlots, id), -1);
            }
    EXPECT_EQ(v.sep(), v.size() - 1);
    EXPECT_EQ(v.height(1), v.height_start());
    EXPECT_TRUE(v.is_whole_frame(v.height(4)));
    EXPECT_FALSE(v.is_whole_frame(v.height(4) + 1 == v.sep() ? v.begin(Modality::Lmx)[0] : v.sep() - 5));
    EXPECT_EQ(v.token_name(v.code(Modality::Lmx, 0, 0)), "lmx:measure");
    EXPECT_EQ(v.token_name(v.end(Modality::Audio)[2]), "audio2:end");
    EXPECT_EQ(v.token_name(v.sep()), "SEP");
}

TEST(VocabularyLayout, IncompatibleManifestsAreRefused) {
    auto g = golden()["params"];
    g["midi_size"] = 12;
    EXPECT_THROW(Vocabulary(VocabularyParams::from_json(g, "m.json")).check_compatible("m.json"), Error);
    g = golden()["params"];
    g["lmx_tokens"] = lmx::vocabulary();
    g["lmx_tokens"][5] = "not-a-token";
    try {
        Vocabulary(VocabularyParams::from_json(g, "m.json")).check_compatible("m.json");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not-a-token"), std::string::npos) << e.what();
    }
    g = golden()["params"];
    g.erase("max_height");
    EXPECT_THROW(VocabularyParams::from_json(g, "m.json"), Error);
    g = golden()["params"];
    g["codebooks"] = 8;
    EXPECT_THROW(VocabularyParams::from_json(g, "m.json"), Error);
}

TEST(Frames, LmxAndMidiAreSingleStreamWithOneDimensionalPositions) {
    auto v = small_vocab();
    auto s = v.lmx_frames({"measure", "clef:G2", "C4"});
    ASSERT_EQ(s.frames.size(), 5u);
    EXPECT_EQ(s.frames[0], v.begin(Modality::Lmx));
    EXPECT_EQ(s.frames[4], v.end(Modality::Lmx));
    EXPECT_EQ(s.frames[1], (Frame{v.code(Modality::Lmx, 0, 0), kPad, kPad, kPad}));
    for (size_t i = 0; i < s.pos.size(); ++i) EXPECT_EQ(s.pos[i], (Position{v.pos_start(Modality::Lmx) + int64_t(i), 0}));
    EXPECT_EQ(v.to_lmx({s.frames.begin() + 1, s.frames.end() - 1}), (std::vector<std::string>{"measure", "clef:G2", "C4"}));
    EXPECT_THROW(v.lmx_frames({"measure", "bogus"}), Error);
    auto m = v.midi_frames({0, 1001, 1386});
    EXPECT_EQ(m.pos[1], (Position{v.pos_start(Modality::Midi) + 1, 0}));
    EXPECT_EQ(v.to_midi({m.frames.begin() + 1, m.frames.end() - 1}), (std::vector<int>{0, 1001, 1386}));
    EXPECT_THROW(v.midi_frames(std::vector<int>(80, 3)), Error);  // longer than max length 64
}

TEST(Frames, ImageGridsAreReadColumnByColumnWithSepAndHeights) {
    auto v = small_vocab();
    CodeGrid a{2, 3, {}};
    for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 3; ++c) a.codes.push_back({r, c, 0, 7});
    CodeGrid b{1, 2, {{{1, 1, 1, 1}}, {{2, 2, 2, 2}}}};
    auto s = v.image_frames({a, b}, /*height_tokens=*/true);
    // begin, height 2, 6 cells, SEP, height 1, 2 cells, end
    ASSERT_EQ(s.frames.size(), 13u);
    int64_t h2 = v.height(2);
    EXPECT_EQ(s.frames[1], (Frame{h2, h2, h2, h2}));
    // Column-major: (r0,c0), (r1,c0), (r0,c1) ...
    EXPECT_EQ(v.value_of(Modality::Image, 0, s.frames[2][0]), 0);
    EXPECT_EQ(v.value_of(Modality::Image, 0, s.frames[3][0]), 1);
    EXPECT_EQ(v.value_of(Modality::Image, 1, s.frames[4][1]), 1);
    EXPECT_EQ(v.value_of(Modality::Image, 3, s.frames[3][3]), 7);
    int64_t px = v.pos_start(Modality::Image);
    EXPECT_EQ(s.pos[2], (Position{px + 0, 1}));
    EXPECT_EQ(s.pos[3], (Position{px + 0, 2}));
    EXPECT_EQ(s.pos[4], (Position{px + 1, 1}));
    EXPECT_EQ(s.frames[8][0], v.sep());
    EXPECT_EQ(s.pos[8], (Position{px + 3, 0}));
    EXPECT_EQ(s.pos[10], (Position{px + 3, 1}));
    EXPECT_EQ(s.pos[11], (Position{px + 4, 1}));
    auto back = v.to_image({s.frames.begin() + 1, s.frames.end() - 1});
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].rows, 2);
    EXPECT_EQ(back[0].codes, a.codes);
    EXPECT_EQ(back[1].codes, b.codes);
    // Without height tokens (input side) the same cells follow begin directly.
    auto in = v.image_frames({a});
    EXPECT_EQ(in.frames.size(), 8u);
    EXPECT_EQ(in.pos[1], (Position{px, 1}));
    // ... and still sit by their own grid (2 rows here, not max_height): the positions the
    // height-token form gives them, so the encoder sees the same 2-D layout on both sides.
    for (size_t i = 0; i < in.pos.size(); ++i) EXPECT_EQ(in.pos[i], s.pos[i == 0 ? 0 : i + 1]) << "frame " << i;
    auto two = v.image_frames({a, b});  // begin, 6 cells, SEP, 2 cells, end
    ASSERT_EQ(two.pos.size(), 11u);
    EXPECT_EQ(two.pos[7], (Position{px + 3, 0}));
    EXPECT_EQ(two.pos[8], (Position{px + 3, 1}));
    EXPECT_EQ(two.pos[9], (Position{px + 4, 1}));
    EXPECT_EQ(two.pos[10], (Position{px + 5, 0}));
    CodeGrid tall{5, 1, std::vector<std::array<int, 4>>(5, {0, 0, 0, 0})};
    EXPECT_THROW(v.image_frames({tall}), Error);  // max_height is 4
}

TEST(Frames, ImageInputsAreBoundedByColumnsAndRowsTargetsByFrames) {
    auto v = small_vocab(40);  // 40 image frames, 16 columns
    CodeGrid wide{4, 12, std::vector<std::array<int, 4>>(48, {1, 2, 3, 4})};  // 50 frames, 12 columns
    EXPECT_EQ(v.image_frames({wide}).frames.size(), 50u);
    EXPECT_THROW(v.image_frames({wide}, /*height_tokens=*/true), Error);
    CodeGrid wider{1, 17, std::vector<std::array<int, 4>>(17, {1, 2, 3, 4})};
    EXPECT_THROW(v.image_frames({wider}), Error);  // 17 columns
}

TEST(Frames, AudioFramesMapEachCodebookToItsBlock) {
    auto v = small_vocab();
    std::vector<AudioFrame> codes{{0, 1, 2, 3}, {7, 6, 5, 4}};
    auto s = v.audio_frames(codes);
    ASSERT_EQ(s.frames.size(), 4u);
    EXPECT_EQ(s.frames[0], v.begin(Modality::Audio));
    EXPECT_EQ(s.frames[1][2], v.code(Modality::Audio, 2, 2));
    EXPECT_TRUE(v.is_end(Modality::Audio, s.frames[3]));
    Frame partial = v.end(Modality::Audio);
    partial[3] = v.code(Modality::Audio, 3, 0);
    EXPECT_FALSE(v.is_end(Modality::Audio, partial)) << "RVQ targets end only when all four slots end";
    EXPECT_EQ(v.to_audio({s.frames.begin() + 1, s.frames.end() - 1}), codes);
    EXPECT_THROW(v.audio_frames({{0, 0, 0, 8}}), Error);
}

}  // namespace
}  // namespace umt::tokens
