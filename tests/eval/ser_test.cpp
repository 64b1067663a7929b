// SER: hand cases, the bit-parallel distance against the plain DP, micro averaging.
#include <gtest/gtest.h>

#include <random>

#include "umt/eval/ser.hpp"

using namespace umt::eval;

namespace {
std::vector<std::string> toks(const std::string& s) { return split_tokens(s); }
}  // namespace

TEST(Ser, SplitsOnAnyWhiteSpace) {
    EXPECT_EQ(toks("  measure\tclef:G2 \n\n C4  "), (std::vector<std::string>{"measure", "clef:G2", "C4"}));
    EXPECT_TRUE(toks(" \n\t").empty());
}

TEST(Ser, HandCases) {
    EXPECT_EQ(token_edit_distance(toks(""), toks("")), 0u);
    EXPECT_EQ(token_edit_distance(toks("a b c"), toks("")), 3u);
    EXPECT_EQ(token_edit_distance(toks(""), toks("a b")), 2u);
    EXPECT_EQ(token_edit_distance(toks("a b c"), toks("a b c")), 0u);
    EXPECT_EQ(token_edit_distance(toks("a b c"), toks("a x c")), 1u);       // substitution
    EXPECT_EQ(token_edit_distance(toks("a b c"), toks("a c")), 1u);         // deletion
    EXPECT_EQ(token_edit_distance(toks("a b c"), toks("a b b c")), 1u);     // insertion
    EXPECT_EQ(token_edit_distance(toks("kitten"), toks("sitting")), 1u);    // one token each
    // Tokens are compared whole, not by characters: "C4" vs "C5" is one substitution.
    EXPECT_EQ(token_edit_distance(toks("measure C4 quarter"), toks("measure C5 quarter")), 1u);
    // Classic character example written as tokens: kitten -> sitting = 3.
    EXPECT_EQ(token_edit_distance(toks("k i t t e n"), toks("s i t t i n g")), 3u);
    EXPECT_EQ(token_edit_distance(toks("a b"), toks("b a")), 2u);
}

TEST(Ser, BitParallelEqualsDynamicProgramme) {
    std::mt19937 rng(12345);
    // Lengths straddle the 64-row word boundaries; small alphabets make many ties.
    const std::size_t lengths[] = {0, 1, 2, 63, 64, 65, 127, 128, 129, 200, 333};
    for (int alphabet : {2, 5, 40}) {
        for (std::size_t la : lengths) {
            for (std::size_t lb : lengths) {
                std::vector<std::uint32_t> a(la), b(lb);
                for (auto& x : a) x = rng() % alphabet;
                // b: half the time an edited copy of a, otherwise independent.
                if (rng() % 2 && la) {
                    b = a;
                    for (int e = 0; e < 5 && !b.empty(); ++e) {
                        std::size_t pos = rng() % b.size();
                        switch (rng() % 3) {
                            case 0: b[pos] = rng() % alphabet; break;
                            case 1: b.erase(b.begin() + long(pos)); break;
                            default: b.insert(b.begin() + long(pos), rng() % alphabet); break;
                        }
                    }
                } else {
                    for (auto& x : b) x = rng() % alphabet;
                }
                ASSERT_EQ(edit_distance_ids(a, b), edit_distance_reference(a, b))
                    << "alphabet " << alphabet << " |a|=" << a.size() << " |b|=" << b.size();
            }
        }
    }
}

TEST(Ser, LongSequencesStayExact) {
    // 12k tokens against an edited copy: the distance is bounded by the edits made.
    std::mt19937 rng(7);
    std::vector<std::uint32_t> a(12000);
    for (auto& x : a) x = rng() % 224;
    auto b = a;
    for (int e = 0; e < 30; ++e) b[rng() % b.size()] = 300 + e;  // 30 distinct substitutions
    EXPECT_EQ(edit_distance_ids(a, b), 30u);
    std::vector<std::uint32_t> c(a.begin() + 100, a.end());  // 100 deleted at the front
    EXPECT_EQ(edit_distance_ids(a, c), 100u);
}

TEST(Ser, MicroAverageOverFiles) {
    SerAccumulator acc;
    acc.add("a", toks("measure C4 quarter D4 quarter"), toks("measure C4 quarter E4 quarter"));  // 1 / 5
    acc.add("b", toks("measure rest whole"), toks(""), true);                                     // 3 / 3
    const auto& r = acc.result();
    EXPECT_EQ(r.errors, 4u);
    EXPECT_EQ(r.ref_tokens, 8u);
    EXPECT_DOUBLE_EQ(r.ser(), 50.0);  // micro: 4/8, not the mean of 20% and 100%
    ASSERT_EQ(r.items.size(), 2u);
    EXPECT_DOUBLE_EQ(r.items[0].ser(), 20.0);
    EXPECT_TRUE(r.items[1].hyp_missing);
    EXPECT_EQ(r.items[1].hyp_tokens, 0u);
}

TEST(Ser, OfTexts) {
    SerItem it = ser_of_texts("measure key:fifths:0 clef:G2\n", "measure key:fifths:1 clef:G2 C4");
    EXPECT_EQ(it.errors, 2u);
    EXPECT_EQ(it.ref_tokens, 3u);
    EXPECT_EQ(it.hyp_tokens, 4u);
}
