// LMX: vocabulary, hand-written edge cases, and the golden/round-trip checks over Lieder.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "umt/core/files.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/musicxml.hpp"

namespace fs = std::filesystem;
using namespace umt;

namespace {

// One part around the given <measure> elements.
std::string score_xml(const std::string& measures) {
    return "<?xml version=\"1.0\"?><score-partwise version=\"4.0\"><part-list><score-part id=\"P1\">"
           "<part-name>Piano</part-name></score-part></part-list><part id=\"P1\">" +
           measures + "</part></score-partwise>";
}

std::string lmx_of(const std::string& measures) {
    Score s = parse_musicxml(score_xml(measures), "test");
    return lmx::join(lmx::linearize(s.parts.at(0)));
}

// Tokens -> MusicXML text -> Score -> tokens must give the same tokens back.
void expect_round_trip(const std::string& text) {
    std::vector<std::string> warnings;
    Score s = lmx::delinearize_score(lmx::tokenize(text), &warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    Score back = parse_musicxml(write_musicxml(s), "round-trip");
    EXPECT_EQ(lmx::join(lmx::linearize(back.parts.at(0))), text);
}

std::vector<Note> notes_of(const Part& p) {
    std::vector<Note> out;
    for (const auto& m : p.measures)
        for (const auto& e : m.elements)
            if (auto* n = std::get_if<Note>(&e)) out.push_back(*n);
    return out;
}

const char* kGrandStaffHead =
    "<attributes><divisions>2</divisions><key><fifths>0</fifths></key><time><beats>4</beats><beat-type>4</beat-type></time>"
    "<staves>2</staves><clef number=\"1\"><sign>G</sign><line>2</line></clef>"
    "<clef number=\"2\"><sign>F</sign><line>4</line></clef></attributes>";

}  // namespace

TEST(LmxVocabulary, Has224UniqueTokensInTheDocumentedOrder) {
    const auto& v = lmx::vocabulary();
    ASSERT_EQ(v.size(), 224u);
    EXPECT_EQ(std::set<std::string>(v.begin(), v.end()).size(), 224u);
    EXPECT_EQ(v.front(), "measure");
    EXPECT_EQ(v[1], "key:fifths:-7");
    EXPECT_EQ(v.back(), "tremolo:4");
    for (const char* t : {"C0", "B9", "voice:12", "rest:measure", "35in16", "natural-flat", "staff:3",
                          "beam:backward-hook", "trill-mark", "tremolo:unmeasured", "beat-type:16", "clef:C3"})
        EXPECT_TRUE(lmx::is_token(t)) << t;
    EXPECT_FALSE(lmx::is_token("voice:13"));
    EXPECT_FALSE(lmx::is_token("beam:continue"));
}

TEST(LmxTokenize, SplitsOnAnyWhiteSpace) {
    EXPECT_EQ(lmx::tokenize("  measure\tC4\n quarter \r\n"), (std::vector<std::string>{"measure", "C4", "quarter"}));
    EXPECT_TRUE(lmx::tokenize(" \n").empty());
}

TEST(LmxLinearize, ChordsAcrossVoicesWithBackup) {
    std::string m = std::string("<measure number=\"1\">") + kGrandStaffHead +
        "<note><pitch><step>E</step><octave>4</octave></pitch><duration>4</duration><voice>1</voice><type>half</type><stem>up</stem><staff>1</staff></note>"
        "<note><chord/><pitch><step>G</step><octave>4</octave></pitch><duration>4</duration><voice>1</voice><type>half</type><stem>up</stem><staff>1</staff></note>"
        "<note><pitch><step>F</step><alter>1</alter><octave>4</octave></pitch><duration>4</duration><voice>1</voice><type>half</type><accidental>sharp</accidental><stem>up</stem><staff>1</staff></note>"
        "<backup><duration>8</duration></backup>"
        "<note><pitch><step>C</step><octave>3</octave></pitch><duration>8</duration><voice>5</voice><type>whole</type><staff>2</staff></note>"
        "<note><chord/><pitch><step>G</step><octave>3</octave></pitch><duration>8</duration><voice>5</voice><type>whole</type><staff>2</staff></note>"
        "</measure>";
    const std::string expected =
        "measure key:fifths:0 time beats:4 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 "
        "E4 voice:1 half stem:up staff:1 chord G4 half F4 half sharp "
        "backup whole C3 voice:5 whole staff:2 chord G3 whole";
    EXPECT_EQ(lmx_of(m), expected);
    expect_round_trip(expected);
    Part p = lmx::delinearize(lmx::tokenize(expected));
    auto notes = notes_of(p);
    ASSERT_EQ(notes.size(), 5u);
    EXPECT_TRUE(notes[1].chord);
    EXPECT_EQ(notes[2].pitch.alter, 1);  // rebuilt from the printed sharp
    EXPECT_EQ(notes[3].voice, 5);
    EXPECT_EQ(notes[3].staff, 2);
    EXPECT_EQ(notes[3].duration, Rational(4));
}

TEST(LmxLinearize, TupletsKeepTheirRatioAndExactDurations) {
    std::string note =
        "<note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><voice>1</voice><type>eighth</type>"
        "<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification>"
        "<stem>down</stem>%BEAM%<notations>%TUP%</notations></note>";
    auto make = [&](const std::string& beam, const std::string& tup) {
        std::string s = note;
        s.replace(s.find("%BEAM%"), 6, beam);
        s.replace(s.find("%TUP%"), 5, tup);
        return s;
    };
    std::string m = "<measure number=\"1\"><attributes><divisions>6</divisions><time><beats>1</beats><beat-type>4</beat-type></time>"
                    "<clef><sign>G</sign><line>2</line></clef></attributes>" +
                    make("<beam number=\"1\">begin</beam>", "<tuplet type=\"start\"/>") +
                    make("<beam number=\"1\">continue</beam>", "") +
                    make("<beam number=\"1\">end</beam>", "<tuplet type=\"stop\"/>") + "</measure>";
    const std::string expected =
        "measure time beats:1 beat-type:4 clef:G2 C5 voice:1 eighth 3in2 stem:down beam:begin tuplet:start "
        "C5 eighth 3in2 C5 eighth 3in2 beam:end tuplet:stop";
    EXPECT_EQ(lmx_of(m), expected);
    expect_round_trip(expected);
    auto notes = notes_of(lmx::delinearize(lmx::tokenize(expected)));
    ASSERT_EQ(notes.size(), 3u);
    for (const auto& n : notes) EXPECT_EQ(n.duration, Rational(1, 3));
    EXPECT_EQ(notes[1].beams.size(), 1u);
    EXPECT_EQ(notes[1].beams[0].value, "continue");  // LMX drops it; the delinearizer restores it
}

TEST(LmxLinearize, GraceNotesTakeNoTime) {
    std::string m = "<measure number=\"1\"><attributes><divisions>1</divisions><clef><sign>G</sign><line>2</line></clef></attributes>"
                    "<note><grace slash=\"yes\"/><pitch><step>D</step><octave>5</octave></pitch><voice>1</voice><type>eighth</type><stem>up</stem></note>"
                    "<note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration><voice>1</voice><type>whole</type></note>"
                    "</measure>";
    const std::string expected = "measure clef:G2 grace grace:slash D5 voice:1 eighth stem:up C5 whole";
    EXPECT_EQ(lmx_of(m), expected);
    expect_round_trip(expected);
    auto notes = notes_of(lmx::delinearize(lmx::tokenize(expected)));
    ASSERT_EQ(notes.size(), 2u);
    EXPECT_TRUE(notes[0].grace && notes[0].grace_slash);
    EXPECT_EQ(notes[0].duration, Rational(0));
    EXPECT_EQ(notes[1].duration, Rational(4));
}

TEST(LmxDelinearize, TieAcrossTheBarlineKeepsTheStartsAlter) {
    // C major: the F# of measure 1 is tied into measure 2 without a printed sharp.
    const std::string text =
        "measure key:fifths:0 time beats:4 beat-type:4 clef:G2 F4 voice:1 whole sharp tied:start "
        "measure F4 voice:1 half tied:stop F4 half";
    auto notes = notes_of(lmx::delinearize(lmx::tokenize(text)));
    ASSERT_EQ(notes.size(), 3u);
    EXPECT_EQ(notes[0].pitch.alter, 1);
    EXPECT_EQ(notes[1].pitch.alter, 1);   // tied stop: from the start
    EXPECT_EQ(notes[2].pitch.alter, 0);   // new measure, untied: back to the key
    EXPECT_TRUE(notes[0].tie_start && notes[1].tie_stop);
    expect_round_trip(text);
}

TEST(LmxDelinearize, AccidentalsCarryWithinTheMeasurePerStaffStepAndOctave) {
    // G major (F#). A natural on F5 holds for later F5s on that staff, not for F4,
    // not for staff 2, and not in the next measure.
    const std::string text =
        "measure key:fifths:1 time beats:4 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 "
        "F5 voice:1 quarter natural staff:1 F5 quarter F4 quarter rest quarter "
        "backup whole F5 voice:5 whole staff:2 "
        "measure F5 voice:1 whole staff:1";
    Part p = lmx::delinearize(lmx::tokenize(text));
    auto notes = notes_of(p);
    ASSERT_EQ(notes.size(), 6u);
    EXPECT_EQ(notes[0].pitch.alter, 0);
    EXPECT_EQ(notes[1].pitch.alter, 0);
    EXPECT_EQ(notes[2].pitch.alter, 1);
    EXPECT_EQ(notes[4].pitch.alter, 1);
    EXPECT_EQ(notes[5].pitch.alter, 1);
    // The rebuilt alters are written as <alter> and read back.
    Score back = parse_musicxml(write_musicxml(lmx::delinearize_score(lmx::tokenize(text))), "rt");
    auto back_notes = notes_of(back.parts[0]);
    EXPECT_EQ(back_notes[0].pitch.midi(), 77);
    EXPECT_EQ(back_notes[2].pitch.midi(), 66);
    expect_round_trip(text);
}

TEST(LmxLinearize, ClefChangeInTheMiddleOfAMeasure) {
    std::string m = std::string("<measure number=\"1\">") + kGrandStaffHead +
        "<note><pitch><step>C</step><octave>3</octave></pitch><duration>4</duration><voice>5</voice><type>half</type><staff>2</staff></note>"
        "<attributes><clef number=\"2\"><sign>G</sign><line>2</line></clef></attributes>"
        "<note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration><voice>5</voice><type>half</type><staff>2</staff></note>"
        "</measure>";
    const std::string expected =
        "measure key:fifths:0 time beats:4 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 "
        "C3 voice:5 half staff:2 clef:G2 staff:2 C5 half";
    EXPECT_EQ(lmx_of(m), expected);
    expect_round_trip(expected);
}

TEST(LmxLinearize, ThreeStaves) {
    std::string m = "<measure number=\"1\"><attributes><divisions>1</divisions><staves>3</staves>"
        "<clef number=\"1\"><sign>G</sign><line>2</line></clef><clef number=\"2\"><sign>F</sign><line>4</line></clef>"
        "<clef number=\"3\"><sign>F</sign><line>4</line></clef></attributes>"
        "<note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration><voice>1</voice><type>whole</type><staff>1</staff></note>"
        "<backup><duration>4</duration></backup>"
        "<note><pitch><step>C</step><octave>3</octave></pitch><duration>4</duration><voice>5</voice><type>whole</type><staff>2</staff></note>"
        "<backup><duration>4</duration></backup>"
        "<note><pitch><step>C</step><octave>2</octave></pitch><duration>4</duration><voice>9</voice><type>whole</type><staff>3</staff></note>"
        "</measure>";
    const std::string expected =
        "measure clef:G2 staff:1 clef:F4 staff:2 clef:F4 staff:3 C5 voice:1 whole staff:1 "
        "backup whole C3 voice:5 whole staff:2 backup whole C2 voice:9 whole staff:3";
    EXPECT_EQ(lmx_of(m), expected);
    expect_round_trip(expected);
    Score s = lmx::delinearize_score(lmx::tokenize(expected));
    EXPECT_EQ(s.parts[0].staff_count(), 3);
}

TEST(LmxLinearize, BackupAndForwardSplitGreedilyIntoNoteTypes) {
    std::string m = "<measure number=\"1\"><attributes><divisions>4</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>"
                    "<note><pitch><step>C</step><octave>5</octave></pitch><duration>16</duration><voice>1</voice><type>whole</type></note>"
                    "<backup><duration>15</duration></backup>"
                    "<forward><duration>6</duration></forward>"
                    "<note><pitch><step>E</step><octave>4</octave></pitch><duration>1</duration><voice>2</voice><type>16th</type></note>"
                    "</measure>";
    const std::string expected =
        "measure time beats:4 beat-type:4 C5 voice:1 whole backup half backup quarter backup eighth backup 16th "
        "forward quarter forward eighth E4 voice:2 16th";
    EXPECT_EQ(lmx_of(m), expected);
    expect_round_trip(expected);
    Part p = lmx::delinearize(lmx::tokenize(expected));
    const auto& els = p.measures.at(0).elements;
    // attributes, note, one backup of 15/4, one forward of 3/2, note: the pieces join again.
    ASSERT_EQ(els.size(), 5u);
    EXPECT_EQ(std::get<Backup>(els[2]).duration, Rational(15, 4));
    EXPECT_EQ(std::get<Forward>(els[3]).duration, Rational(3, 2));
    // Two separate forwards stay two (a piece as long as the last starts a new one).
    Part two = lmx::delinearize(lmx::tokenize("measure C4 voice:1 quarter forward quarter forward quarter"));
    ASSERT_EQ(two.measures[0].elements.size(), 4u);  // attributes, note, forward, forward
    EXPECT_EQ(std::get<Forward>(two.measures[0].elements[3]).duration, Rational(1));
}

TEST(LmxLinearize, OddDivisionsSplitLikeTheReference) {
    // divisions=3, a backup of 2 units: integer halving of the step gives an eighth
    // (1 unit) and then zero-length steps for every shorter type.
    std::string m = "<measure number=\"1\"><attributes><divisions>3</divisions></attributes>"
                    "<note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><voice>1</voice><type>quarter</type>"
                    "<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification></note>"
                    "<backup><duration>2</duration></backup></measure>";
    EXPECT_EQ(lmx_of(m),
              "measure C5 voice:1 quarter 3in2 backup eighth backup 16th backup 32nd backup 64th backup 128th "
              "backup 256th backup 512th backup 1024th");
}

TEST(LmxDelinearize, MeasureRestTakesTheMeasureLength) {
    const std::string text = "measure time beats:3 beat-type:4 clef:G2 rest voice:1 rest:measure measure rest rest:measure";
    Score s = lmx::delinearize_score(lmx::tokenize(text));
    auto notes = notes_of(s.parts[0]);
    ASSERT_EQ(notes.size(), 2u);
    EXPECT_TRUE(notes[0].measure_rest);
    EXPECT_EQ(notes[0].duration, Rational(3));
    std::string xml = write_musicxml(s);
    EXPECT_NE(xml.find("<rest measure=\"yes\"/>"), std::string::npos);
    expect_round_trip(text);
}

TEST(LmxDelinearize, UnknownAndMisplacedTokensBecomeWarnings) {
    std::vector<std::string> warnings;
    Part p = lmx::delinearize(lmx::tokenize("C4 measure foo C4 voice:1 quarter bar staff:9 measure dot quarter chord"), &warnings);
    ASSERT_EQ(p.measures.size(), 2u);
    EXPECT_EQ(notes_of(p).size(), 2u);  // 'quarter' without a pitch reads as a rest
    std::string all;
    for (const auto& w : warnings) all += w + "\n";
    EXPECT_NE(all.find("'foo' is not an LMX token"), std::string::npos) << all;
    EXPECT_NE(all.find("'bar'"), std::string::npos) << all;
    EXPECT_NE(all.find("before the first 'measure'"), std::string::npos) << all;
    EXPECT_NE(all.find("'dot' has no note"), std::string::npos) << all;
    EXPECT_NE(all.find("'chord' at the end"), std::string::npos) << all;
}

TEST(LmxDelinearize, GarbageNeverCrashesAndGivesValidMusicXml) {
    const auto& v = lmx::vocabulary();
    uint32_t seed = 12345;
    for (int round = 0; round < 200; ++round) {
        std::vector<std::string> tokens;
        for (int i = 0; i < 60; ++i) {
            seed = seed * 1664525u + 1013904223u;
            tokens.push_back(v[(seed >> 8) % v.size()]);
        }
        std::vector<std::string> warnings;
        Score s = lmx::delinearize_score(tokens, &warnings);
        std::string xml = write_musicxml(s);
        EXPECT_NO_THROW(parse_musicxml(xml, "garbage")) << lmx::join(tokens);
    }
}

TEST(LmxSystems, EachSystemRestatesKeyAndClefsButNotTime) {
    std::string m1 = std::string("<measure number=\"1\">") + kGrandStaffHead +
                     "<note><rest/><duration>8</duration><voice>1</voice><type>whole</type><staff>1</staff></note></measure>";
    std::string m2 = "<measure number=\"2\"><print new-system=\"yes\"/>"
                     "<attributes><key><fifths>2</fifths></key></attributes>"
                     "<note><rest/><duration>8</duration><voice>1</voice><type>whole</type><staff>1</staff></note></measure>";
    std::string m3 = "<measure number=\"3\"><note><rest/><duration>8</duration><voice>1</voice><type>whole</type><staff>1</staff></note></measure>";
    std::string m4 = "<measure number=\"4\"><print new-page=\"yes\"/>"
                     "<note><rest/><duration>8</duration><voice>1</voice><type>whole</type><staff>1</staff></note></measure>";
    Score s = parse_musicxml(score_xml(m1 + m2 + m3 + m4), "systems");
    auto systems = lmx::linearize_systems(s.parts[0]);
    ASSERT_EQ(systems.size(), 3u);
    EXPECT_EQ(lmx::join(systems[0]),
              "measure key:fifths:0 time beats:4 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 rest voice:1 whole staff:1");
    EXPECT_EQ(lmx::join(systems[1]),
              "measure key:fifths:2 clef:G2 staff:1 clef:F4 staff:2 rest voice:1 whole staff:1 "
              "measure rest voice:1 whole staff:1");
    EXPECT_EQ(lmx::join(systems[2]),
              "measure key:fifths:2 clef:G2 staff:1 clef:F4 staff:2 rest voice:1 whole staff:1");
    // The whole-part linearization is the systems without the restatements.
    EXPECT_EQ(lmx::linearize(s.parts[0]).size(), systems[0].size() + systems[1].size() - 4 + systems[2].size() - 5);
}

// The golden test: the published LMX of every Lieder score, token for token, and the
// round trip LMX -> MusicXML -> LMX on the same scores.
namespace {

struct LiederFile {
    std::string mxl, lmx, id;
};

std::vector<LiederFile> lieder_files() {
    std::vector<LiederFile> out;
    fs::path root = fs::path(UMT_SOURCE_DIR) / ".." / "shared" / "data" / "lieder";
    for (const char* split : {"train", "dev"}) {
        std::error_code ec;
        for (auto it = fs::directory_iterator(root / split, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
            if (it->path().extension() != ".mxl") continue;
            std::string id = it->path().stem().string();
            out.push_back({it->path().string(), (root / "lmx" / split / (id + ".lmx")).string(), id});
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

}  // namespace

TEST(LmxGolden, ReproducesTheReferenceLmxOfEveryLiederScore) {
    auto files = lieder_files();
    if (files.empty()) GTEST_SKIP() << "../shared/data/lieder not present";
    size_t same = 0;
    std::vector<std::string> failures;
    for (const auto& f : files) {
        std::vector<std::string> ours;
        try {
            ours = lmx::linearize(read_score(f.mxl).default_part());
        } catch (const std::exception& e) {
            failures.push_back(f.id + ": " + e.what());
            continue;
        }
        if (ours == lmx::tokenize(read_file(f.lmx))) ++same;
        else failures.push_back(f.id);
    }
    EXPECT_EQ(files.size(), 1195u);
    EXPECT_EQ(same, files.size()) << "first mismatch: " << (failures.empty() ? "" : failures.front());
}

TEST(LmxGolden, RoundTripThroughMusicXmlGivesTheSameLmxForEveryLiederScore) {
    auto files = lieder_files();
    if (files.empty()) GTEST_SKIP() << "../shared/data/lieder not present";
    size_t same = 0;
    std::vector<std::string> failures;
    for (const auto& f : files) {
        auto first = lmx::tokenize(read_file(f.lmx));
        std::vector<std::string> warnings;
        Score s = lmx::delinearize_score(first, &warnings);
        Score back = parse_musicxml(write_musicxml(s), f.id);
        if (lmx::linearize(back.default_part()) == first && warnings.empty()) ++same;
        else failures.push_back(f.id);
    }
    EXPECT_EQ(same, files.size()) << "first mismatch: " << (failures.empty() ? "" : failures.front());
}
