// MusicXML reader/writer: what is read, what is written back, and clear errors.
#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

#include <gtest/gtest.h>
#include <zip.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/lmx.hpp"
#include "umt/io/musicxml.hpp"

namespace fs = std::filesystem;
using namespace umt;

namespace {

const char* kScore = R"(<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0">
  <work><work-title>Test &amp; Song</work-title></work>
  <identification><creator type="composer">Anon</creator></identification>
  <part-list>
    <score-part id="P1"><part-name>Voice</part-name><midi-instrument id="I1"><midi-channel>1</midi-channel><midi-program>53</midi-program></midi-instrument></score-part>
    <score-part id="P2"><part-name>Piano</part-name><midi-instrument id="I2"><midi-program>1</midi-program></midi-instrument></score-part>
  </part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>4</divisions><key><fifths>-1</fifths><mode>minor</mode></key><time><beats>3</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef></attributes>
      <direction placement="above"><direction-type><words>Andante</words></direction-type><sound tempo="72"/></direction>
      <note><rest measure="yes"/><duration>12</duration><voice>1</voice></note>
      <harmony><root><root-step>C</root-step></root></harmony>
    </measure>
  </part>
  <part id="P2">
    <measure number="1">
      <barline location="left"><bar-style>heavy-light</bar-style><repeat direction="forward"/></barline>
      <attributes><divisions>4</divisions><key><fifths>-1</fifths></key><time><beats>3</beats><beat-type>4</beat-type></time><staves>2</staves>
        <clef number="1"><sign>G</sign><line>2</line></clef><clef number="2"><sign>F</sign><line>4</line></clef></attributes>
      <direction><direction-type><dynamics><mf/></dynamics></direction-type><staff>1</staff><sound dynamics="88.89"/></direction>
      <note><pitch><step>B</step><alter>-1</alter><octave>4</octave></pitch><duration>6</duration><tie type="start"/><voice>1</voice><type>quarter</type><dot/><stem>up</stem><staff>1</staff><notations><tied type="start"/><slur type="start" number="1"/><articulations><staccato/></articulations></notations></note>
      <note><pitch><step>B</step><alter>-1</alter><octave>4</octave></pitch><duration>2</duration><tie type="stop"/><voice>1</voice><type>eighth</type><stem>up</stem><staff>1</staff><notations><tied type="stop"/></notations></note>
      <note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration><voice>1</voice><type>quarter</type><stem>up</stem><staff>1</staff><notations><slur type="stop" number="1"/><fermata/></notations></note>
      <backup><duration>12</duration></backup>
      <note><pitch><step>D</step><octave>3</octave></pitch><duration>12</duration><voice>5</voice><type>half</type><dot/><stem>down</stem><staff>2</staff></note>
      <barline location="right"><bar-style>light-heavy</bar-style><ending number="1, 2" type="stop"/><repeat direction="backward" times="3"/></barline>
    </measure>
    <measure number="2">
      <print new-system="yes"/>
      <note><rest/><duration>12</duration><voice>1</voice><type>half</type><dot/><staff>1</staff></note>
    </measure>
  </part>
</score-partwise>)";

std::vector<Note> notes_of(const Part& p) {
    std::vector<Note> out;
    for (const auto& m : p.measures)
        for (const auto& e : m.elements)
            if (auto* n = std::get_if<Note>(&e)) out.push_back(*n);
    return out;
}

std::string temp_dir() {
    fs::path d = fs::temp_directory_path() / ("umt-musicxml-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d.string();
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// A zip with the given entries, for hand-made .mxl files.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string path = temp_dir() + "/made.zip";
    fs::remove(path);
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    for (const auto& [name, data] : entries) {
        zip_source_t* s = zip_source_buffer(z, data.data(), data.size(), 0);
        zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE);
    }
    zip_close(z);
    return read_file(path);
}

}  // namespace

TEST(MusicXmlRead, ReadsPartsStavesNotesDirectionsAndBarlines) {
    Score s = parse_musicxml(kScore, "score.musicxml");
    EXPECT_EQ(s.title, "Test & Song");
    EXPECT_EQ(s.composer, "Anon");
    ASSERT_EQ(s.parts.size(), 2u);
    EXPECT_EQ(s.parts[0].midi_program, 52);
    EXPECT_EQ(s.parts[0].midi_channel, 0);
    EXPECT_EQ(s.default_part_index(), 1u);
    const Part& piano = s.parts[1];
    EXPECT_EQ(piano.staff_count(), 2);
    auto notes = notes_of(piano);
    ASSERT_EQ(notes.size(), 5u);
    EXPECT_EQ(notes[0].pitch.midi(), 70);
    EXPECT_EQ(notes[0].duration, Rational(3, 2));
    EXPECT_EQ(notes[0].dots, 1);
    EXPECT_TRUE(notes[0].tie_start && notes[0].tied_start && notes[1].tie_stop);
    EXPECT_TRUE(notes[0].staccato);
    EXPECT_TRUE(notes[2].fermata);
    EXPECT_EQ(notes[3].voice, 5);
    EXPECT_EQ(notes[3].staff, 2);
    EXPECT_EQ(notes[3].duration, Rational(3));
    const Measure& m1 = piano.measures[0];
    ASSERT_EQ(m1.barlines.size(), 2u);
    EXPECT_EQ(m1.barlines[0].repeat, "forward");
    EXPECT_EQ(m1.barlines[1].repeat, "backward");
    EXPECT_EQ(m1.barlines[1].times, 3);
    EXPECT_EQ(m1.barlines[1].ending_numbers, (std::vector<int>{1, 2}));
    EXPECT_TRUE(piano.measures[1].new_system);
    bool dyn = false;
    for (const auto& e : m1.elements)
        if (auto* d = std::get_if<Direction>(&e)) dyn = d->dynamics && std::abs(*d->dynamics - 88.89) < 1e-9 && d->dynamic_mark == "mf";
    EXPECT_TRUE(dyn);
    auto voice = notes_of(s.parts[0]);
    ASSERT_EQ(voice.size(), 1u);
    EXPECT_TRUE(voice[0].measure_rest);
    EXPECT_EQ(voice[0].duration, Rational(3));
    bool tempo = false;
    for (const auto& e : s.parts[0].measures[0].elements)
        if (auto* d = std::get_if<Direction>(&e)) tempo = d->tempo_qpm && *d->tempo_qpm == 72.0;
    EXPECT_TRUE(tempo);
}

TEST(MusicXmlWrite, WriteThenReadKeepsEverythingTheModelHolds) {
    Score s = parse_musicxml(kScore, "score.musicxml");
    Score back = parse_musicxml(write_musicxml(s), "written");
    ASSERT_EQ(back.parts.size(), 2u);
    EXPECT_EQ(back.title, s.title);
    EXPECT_EQ(back.parts[1].name, "Piano");
    EXPECT_EQ(back.parts[0].midi_program, 52);
    for (size_t p = 0; p < 2; ++p) {
        EXPECT_EQ(lmx::linearize(back.parts[p]), lmx::linearize(s.parts[p]));
        auto a = notes_of(s.parts[p]), b = notes_of(back.parts[p]);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].pitch, b[i].pitch);
            EXPECT_EQ(a[i].duration, b[i].duration);
            EXPECT_EQ(a[i].tie_start, b[i].tie_start);
            EXPECT_EQ(a[i].slurs, b[i].slurs);
        }
        ASSERT_EQ(back.parts[p].measures.size(), s.parts[p].measures.size());
        for (size_t m = 0; m < s.parts[p].measures.size(); ++m) {
            const auto& ba = s.parts[p].measures[m].barlines;
            const auto& bb = back.parts[p].measures[m].barlines;
            ASSERT_EQ(ba.size(), bb.size());
            for (size_t i = 0; i < ba.size(); ++i) {
                EXPECT_EQ(ba[i].repeat, bb[i].repeat);
                EXPECT_EQ(ba[i].times, bb[i].times);
                EXPECT_EQ(ba[i].ending_type, bb[i].ending_type);
                EXPECT_EQ(ba[i].ending_numbers, bb[i].ending_numbers);
            }
        }
    }
    bool tempo = false;
    for (const auto& e : back.parts[0].measures[0].elements)
        if (auto* d = std::get_if<Direction>(&e)) tempo = d->tempo_qpm && *d->tempo_qpm == 72.0;
    EXPECT_TRUE(tempo);
}

TEST(MusicXmlWrite, ScoresBuiltInCodeGetCommonDivisions) {
    // No <divisions> anywhere: the writer picks the least common multiple.
    Score s;
    Part p;
    Measure m;
    Note a;
    a.pitch = Pitch{'C', 0, 4};
    a.type = "eighth";
    a.time_modification = TimeModification{3, 2, ""};
    a.duration = Rational(1, 3);
    Note b = a;
    b.type = "16th";
    b.time_modification.reset();
    b.duration = Rational(1, 4);
    m.elements = {a, b};
    p.measures.push_back(m);
    s.parts.push_back(p);
    std::string xml = write_musicxml(s);
    EXPECT_NE(xml.find("<divisions>12</divisions>"), std::string::npos);
    auto notes = notes_of(parse_musicxml(xml, "built").parts[0]);
    ASSERT_EQ(notes.size(), 2u);
    EXPECT_EQ(notes[0].duration, Rational(1, 3));
    EXPECT_EQ(notes[1].duration, Rational(1, 4));
}

TEST(MusicXmlRead, TimewiseScoresAreRegroupedIntoParts) {
    const char* tw = R"(<score-timewise version="3.1"><part-list><score-part id="A"><part-name>A</part-name></score-part>
      <score-part id="B"><part-name>B</part-name></score-part></part-list>
      <measure number="1"><part id="A"><attributes><divisions>1</divisions></attributes><note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration><type>whole</type></note></part>
        <part id="B"><attributes><divisions>2</divisions></attributes><note><pitch><step>E</step><octave>4</octave></pitch><duration>8</duration><type>whole</type></note></part></measure>
      <measure number="2"><part id="A"><note><pitch><step>D</step><octave>4</octave></pitch><duration>4</duration><type>whole</type></note></part>
        <part id="B"><note><pitch><step>F</step><octave>4</octave></pitch><duration>8</duration><type>whole</type></note></part></measure>
    </score-timewise>)";
    Score s = parse_musicxml(tw, "tw.xml");
    ASSERT_EQ(s.parts.size(), 2u);
    EXPECT_EQ(s.parts[1].name, "B");
    ASSERT_EQ(s.parts[1].measures.size(), 2u);
    auto b = notes_of(s.parts[1]);
    EXPECT_EQ(b[1].pitch.step, 'F');
    EXPECT_EQ(b[1].duration, Rational(4));  // divisions carried from measure 1
    EXPECT_FALSE(b[0].has_voice);
}

TEST(MusicXmlRead, Utf16WithBomReads) {
    std::string utf16 = "\xFF\xFE";  // little-endian BOM
    std::u16string wide = u"<score-partwise><part-list><score-part id=\"P1\"><part-name>Kl\u00e4vier</part-name></score-part></part-list>"
                          u"<part id=\"P1\"><measure number=\"1\"/></part></score-partwise>";
    for (char16_t ch : wide) {
        utf16 += static_cast<char>(ch & 0xFF);
        utf16 += static_cast<char>(ch >> 8);
    }
    Score s = parse_musicxml(utf16, "utf16.xml");
    EXPECT_EQ(s.parts.at(0).name, "Kl\xC3\xA4vier");
}

TEST(MusicXmlErrors, BadInputNamesTheFileAndTheProblem) {
    EXPECT_NE(error_of([] { parse_musicxml("", "empty.musicxml"); }).find("empty.musicxml: empty file"), std::string::npos);
    EXPECT_NE(error_of([] { parse_musicxml("hello, world", "text.xml"); }).find("text.xml: not valid XML"), std::string::npos);
    std::string truncated = std::string(kScore).substr(0, 900);
    EXPECT_NE(error_of([&] { parse_musicxml(truncated, "cut.musicxml"); }).find("cut.musicxml: not valid XML"), std::string::npos);
    EXPECT_NE(error_of([] { parse_musicxml("<html><body/></html>", "page.xml"); }).find("page.xml: not a MusicXML score (root element <html>"), std::string::npos);
    EXPECT_NE(error_of([] { parse_musicxml("<score-partwise/>", "noparts.xml"); }).find("noparts.xml: MusicXML score has no <part>"), std::string::npos);
    EXPECT_NE(error_of([] { read_score("/nonexistent/x.mxl"); }).find("/nonexistent/x.mxl"), std::string::npos);
}

TEST(MusicXmlMxl, WriteAndReadCompressed) {
    Score s = parse_musicxml(kScore, "score.musicxml");
    std::string dir = temp_dir();
    std::string path = dir + "/out.mxl";
    save_score(s, path);
    std::string bytes = read_file(path);
    EXPECT_EQ(bytes.compare(0, 4, "PK\x03\x04"), 0);
    EXPECT_EQ(bytes.substr(30, 8), "mimetype");  // first entry, stored, as the spec asks
    Score back = read_score(path);
    EXPECT_EQ(lmx::linearize(back.default_part()), lmx::linearize(s.default_part()));
    // Content decides, not the name: the archive under an .xml name still reads.
    std::string misnamed = dir + "/really-a-zip.xml";
    fs::copy_file(path, misnamed, fs::copy_options::overwrite_existing);
    EXPECT_EQ(read_score(misnamed).parts.size(), 2u);
    // And text saved as .musicxml is text.
    save_score(s, dir + "/out.musicxml");
    EXPECT_EQ(read_file(dir + "/out.musicxml").compare(0, 5, "<?xml"), 0);
    // No temporary files are left next to the outputs.
    size_t files = 0;
    for (auto& e : fs::directory_iterator(dir)) files += e.path().filename().string().find("tmp") != std::string::npos;
    EXPECT_EQ(files, 0u);
    fs::remove_all(dir);
}

TEST(MusicXmlMxl, ContainerRootFileAndItsAbsence) {
    const std::string container =
        "<container><rootfiles><rootfile full-path=\"inner/score.xml\" media-type=\"application/vnd.recordare.musicxml+xml\"/>"
        "</rootfiles></container>";
    std::string good = make_zip({{"META-INF/container.xml", container}, {"inner/score.xml", kScore}});
    EXPECT_EQ(parse_mxl(good, "good.mxl").parts.size(), 2u);
    std::string missing = make_zip({{"META-INF/container.xml", container}, {"other.xml", kScore}});
    EXPECT_NE(error_of([&] { parse_mxl(missing, "missing.mxl"); }).find("missing.mxl: .mxl root file 'inner/score.xml' is missing"), std::string::npos);
    std::string no_container = make_zip({{"score.musicxml", kScore}});
    EXPECT_EQ(parse_mxl(no_container, "bare.mxl").parts.size(), 2u);
    std::string nothing = make_zip({{"readme.txt", "hello"}});
    EXPECT_NE(error_of([&] { parse_mxl(nothing, "nothing.mxl"); }).find("nothing.mxl: .mxl has no META-INF/container.xml and no MusicXML file"), std::string::npos);
    std::string cut = good.substr(0, good.size() / 2);
    EXPECT_NE(error_of([&] { parse_mxl(cut, "cut.mxl"); }).find("cut.mxl: not a valid .mxl"), std::string::npos);
}

TEST(MusicXmlRead, RealLiederScoreSurvivesWriteAndRead) {
    fs::path f = fs::path(UMT_SOURCE_DIR) / ".." / "shared" / "data" / "lieder" / "dev";
    std::error_code ec;
    if (!fs::is_directory(f, ec)) GTEST_SKIP() << "../shared/data/lieder not present";
    std::string first;
    for (auto& e : fs::directory_iterator(f)) if (first.empty() || e.path().string() < first) first = e.path().string();
    Score s = read_score(first);
    Score back = parse_musicxml(write_musicxml(s), "written");
    ASSERT_EQ(back.parts.size(), s.parts.size());
    for (size_t p = 0; p < s.parts.size(); ++p) {
        EXPECT_EQ(lmx::linearize(back.parts[p]), lmx::linearize(s.parts[p])) << "part " << p;
        auto a = notes_of(s.parts[p]), b = notes_of(back.parts[p]);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) {
            ASSERT_EQ(a[i].pitch.midi(), b[i].pitch.midi()) << i;
            ASSERT_EQ(a[i].duration, b[i].duration) << i;
        }
    }
}

// What the Lieder corpus uses beyond notes (lyrics, every kind of direction, barline styles,
// endings, header, part list), and what the model keeps verbatim (harmony, fingering, credits).
const char* kRichScore = R"(<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0">
  <work><work-number>Op. 1</work-number><work-title>Lieder</work-title></work>
  <movement-number>3</movement-number>
  <movement-title>Nachtlied</movement-title>
  <identification><creator type="composer">A. Composer</creator><creator type="lyricist">B. Poet</creator><rights>CC0</rights>
    <encoding><software>MuseScore 3.6.2</software><encoding-date>2024-01-01</encoding-date><supports element="beam" type="yes"/></encoding><source>https://example.org/1</source></identification>
  <defaults><scaling><millimeters>7</millimeters><tenths>40</tenths></scaling></defaults>
  <credit page="1"><credit-type>title</credit-type><credit-words justify="center">Nachtlied</credit-words></credit>
  <part-list>
    <part-group type="start" number="1"><group-symbol>bracket</group-symbol></part-group>
    <score-part id="P1"><part-name>Voice</part-name><part-abbreviation>V.</part-abbreviation>
      <score-instrument id="P1-I1"><instrument-name>Voice</instrument-name><instrument-sound>voice.vocals</instrument-sound></score-instrument>
      <midi-device id="P1-I1" port="1"/><midi-instrument id="P1-I1"><midi-channel>1</midi-channel><midi-program>54</midi-program><volume>78.7</volume><pan>0</pan></midi-instrument></score-part>
    <part-group type="stop" number="1"/>
  </part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>2</divisions><key><fifths>0</fifths></key><time><beats>2</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef>
        <staff-details><staff-lines>5</staff-lines></staff-details></attributes>
      <direction placement="above"><direction-type><rehearsal>A</rehearsal></direction-type><direction-type><segno/></direction-type></direction>
      <direction placement="above"><direction-type><metronome><beat-unit>quarter</beat-unit><beat-unit-dot/><per-minute>60</per-minute></metronome></direction-type><sound tempo="90"/></direction>
      <direction placement="below"><direction-type><wedge type="crescendo" number="1"/></direction-type></direction>
      <direction><direction-type><pedal type="start" line="yes"/></direction-type><sound damper-pedal="yes"/></direction>
      <direction><direction-type><octave-shift type="down" size="8" number="1"/></direction-type></direction>
      <harmony><root><root-step>C</root-step></root><kind>major</kind></harmony>
      <note><pitch><step>E</step><octave>4</octave></pitch><duration>2</duration><voice>1</voice><type>quarter</type>
        <notations><technical><fingering>3</fingering></technical><ornaments><turn/></ornaments><articulations><breath-mark/></articulations></notations>
        <lyric number="1"><syllabic>single</syllabic><text>e</text><elision>&#x203F;</elision><syllabic>begin</syllabic><text>il</text></lyric>
        <lyric number="2"><syllabic>single</syllabic><text>Ach </text><extend/></lyric></note>
      <note><pitch><step>F</step><octave>4</octave></pitch><duration>2</duration><voice>1</voice><type>quarter</type><notehead>x</notehead>
        <lyric number="1"><syllabic>end</syllabic><text>lo</text><extend type="start"/></lyric></note>
      <barline location="right"><bar-style>light-light</bar-style><fermata type="upright"/><ending number="1" type="stop">1.</ending></barline>
    </measure>
    <measure number="2">
      <direction><direction-type><wedge type="stop" number="1"/></direction-type></direction>
      <direction><direction-type><pedal type="stop" line="yes"/></direction-type><sound damper-pedal="no"/></direction>
      <note><rest/><duration>4</duration><voice>1</voice><type>half</type></note>
      <barline location="right"><bar-style>light-heavy</bar-style><repeat direction="backward"/></barline>
    </measure>
  </part>
</score-partwise>)";

TEST(MusicXmlWrite, KeepsLyricsDirectionsHeaderAndVerbatimElements) {
    Score s = parse_musicxml(kRichScore, "rich.musicxml");
    const std::string once = write_musicxml(s);
    Score back = parse_musicxml(once, "written");
    // Written again, the text is the same: nothing was lost or changed on the way.
    EXPECT_EQ(write_musicxml(back), once);

    EXPECT_EQ(back.work_number, "Op. 1");
    EXPECT_EQ(back.movement_title, "Nachtlied");
    EXPECT_EQ(back.title, "Lieder");
    ASSERT_EQ(back.creators.size(), 2u);
    EXPECT_EQ(back.creators[1].type, "lyricist");
    EXPECT_EQ(back.rights, std::vector<std::string>{"CC0"});
    EXPECT_EQ(back.source, "https://example.org/1");
    ASSERT_TRUE(back.defaults && back.defaults->child("scaling"));
    ASSERT_EQ(back.credits.size(), 1u);
    EXPECT_EQ(back.credits[0].child("credit-words")->text, "Nachtlied");
    ASSERT_EQ(back.part_groups.size(), 2u);
    EXPECT_EQ(back.part_groups[0].first, 0u);
    EXPECT_EQ(back.part_groups[1].first, 1u);
    const Part& p = back.parts.at(0);
    EXPECT_EQ(p.abbreviation, "V.");
    EXPECT_EQ(p.midi_program, 53);
    EXPECT_NE(once.find("<volume>78.7</volume>"), std::string::npos);
    // The original software stays beside umt's.
    EXPECT_NE(once.find("<software>MuseScore 3.6.2</software>"), std::string::npos);
    EXPECT_NE(once.find("<software>umt</software>"), std::string::npos);

    auto notes = notes_of(p);
    ASSERT_EQ(notes.size(), 3u);
    ASSERT_EQ(notes[0].lyrics.size(), 2u);
    const Lyric& l1 = notes[0].lyrics[0];
    EXPECT_EQ(l1.number, "1");
    ASSERT_EQ(l1.syllables.size(), 2u);
    EXPECT_EQ(l1.syllables[0].text, "e");
    EXPECT_TRUE(l1.syllables[1].has_elision);
    EXPECT_EQ(l1.syllables[1].elision, "\u203F");
    EXPECT_EQ(l1.syllables[1].syllabic, "begin");
    EXPECT_EQ(notes[0].lyrics[1].syllables[0].text, "Ach ");  // the space is part of the text
    EXPECT_EQ(notes[0].lyrics[1].extend, "yes");
    EXPECT_EQ(notes[1].lyrics[0].extend, "start");
    ASSERT_EQ(notes[0].extra_notations.size(), 1u);
    EXPECT_EQ(notes[0].extra_notations[0].child("fingering")->text, "3");
    ASSERT_EQ(notes[0].extra_ornaments.size(), 1u);
    EXPECT_EQ(notes[0].extra_ornaments[0].name, "turn");
    // MuseScore 3 stops importing a part at an ornament that touches </ornaments>.
    EXPECT_EQ(once.find("/></ornaments>"), std::string::npos);
    ASSERT_EQ(notes[0].extra_articulations.size(), 1u);
    ASSERT_EQ(notes[1].extras.size(), 1u);
    EXPECT_EQ(notes[1].extras[0].text, "x");

    std::vector<std::string> kinds;
    int harmonies = 0;
    for (const auto& m : p.measures)
        for (const auto& e : m.elements) {
            if (auto* d = std::get_if<Direction>(&e))
                for (const auto& type : d->types)
                    for (const auto& x : type) kinds.push_back(x.name + ":" + x.attribute("type"));
            if (auto* o = std::get_if<OtherElement>(&e)) harmonies += o->xml.name == "harmony";
        }
    EXPECT_EQ(kinds, (std::vector<std::string>{"rehearsal:", "segno:", "metronome:", "wedge:crescendo", "pedal:start",
                                               "octave-shift:down", "wedge:stop", "pedal:stop"}));
    EXPECT_EQ(harmonies, 1);
    const Barline& b = p.measures[0].barlines.at(0);
    EXPECT_EQ(b.bar_style, "light-light");
    EXPECT_EQ(b.ending_text, "1.");
    ASSERT_EQ(b.extras.size(), 1u);
    EXPECT_EQ(b.extras[0].attribute("type"), "upright");
    ASSERT_EQ(std::get<Attributes>(p.measures[0].elements[0]).extras.size(), 1u);
    // LMX sees none of it: the same tokens as before the round trip.
    EXPECT_EQ(lmx::linearize(back.parts[0]), lmx::linearize(s.parts[0]));
}
