// Score playback: timing in quarters and seconds, ties, graces, repeats, dynamics, and MuseScore agreement.
#include "umt/core/playback.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "umt/core/error.hpp"
#include "umt/io/midi.hpp"
#include "umt/io/musicxml.hpp"

namespace {

using umt::Note;
using umt::Rational;

Note note(char step, int octave, Rational dur, int voice = 1, int staff = 1) {
    Note n;
    n.pitch.step = step;
    n.pitch.octave = octave;
    n.duration = dur;
    n.voice = voice;
    n.staff = staff;
    return n;
}

Note rest(Rational dur) {
    Note n;
    n.is_rest = true;
    n.duration = dur;
    return n;
}

umt::Measure measure(std::vector<umt::MeasureElement> elems) {
    umt::Measure m;
    m.elements = std::move(elems);
    return m;
}

umt::Score one_part(std::vector<umt::Measure> measures) {
    umt::Score s;
    umt::Part p;
    umt::Attributes a;
    a.time = umt::TimeSignature{};
    measures.front().elements.insert(measures.front().elements.begin(), a);
    p.measures = std::move(measures);
    s.parts.push_back(p);
    return s;
}

// (pitch, onset in seconds) pairs in order.
std::vector<std::pair<int, double>> onsets(const umt::Performance& p) {
    std::vector<std::pair<int, double>> out;
    for (const auto& n : p.notes) out.push_back({n.pitch, n.onset_s});
    return out;
}

TEST(Playback, ChordsVoicesBackupForwardAt120) {
    Note e = note('E', 4, 1);
    e.chord = true;
    umt::Forward fwd;
    fwd.duration = Rational(2);
    auto s = one_part({measure({note('C', 4, 1), e, note('D', 4, 3), umt::Backup{Rational(4)}, fwd,
                                note('G', 3, 2, 2, 2)})});
    const auto p = umt::render_score(s);
    ASSERT_EQ(p.notes.size(), 4u);
    EXPECT_EQ(p.notes[0].pitch, 60);
    EXPECT_DOUBLE_EQ(p.notes[0].offset_s, 0.5);
    EXPECT_EQ(p.notes[1].pitch, 64);
    EXPECT_DOUBLE_EQ(p.notes[1].onset_s, 0.0);
    EXPECT_EQ(p.notes[2].pitch, 62);
    EXPECT_DOUBLE_EQ(p.notes[2].onset_s, 0.5);
    EXPECT_DOUBLE_EQ(p.notes[2].offset_s, 2.0);
    EXPECT_EQ(p.notes[3].pitch, 55);
    EXPECT_DOUBLE_EQ(p.notes[3].onset_s, 1.0);  // forward moved the cursor 2 quarters
    ASSERT_FALSE(p.tempos.empty());
    EXPECT_DOUBLE_EQ(p.tempos[0].qpm, 120.0);
}

TEST(Playback, TempoChangesAndTriplets) {
    umt::Direction slow;
    slow.tempo_qpm = 60.0;
    Note t = note('C', 5, Rational(1, 3));
    auto s = one_part({measure({note('C', 4, 2), slow, t, t, t, note('D', 4, 1)}),
                       measure({note('E', 4, 4)})});
    const auto p = umt::render_score(s);
    ASSERT_EQ(p.notes.size(), 6u);
    EXPECT_DOUBLE_EQ(p.notes[1].onset_s, 1.0);
    EXPECT_NEAR(p.notes[2].onset_s, 1.0 + 1.0 / 3, 1e-12);
    EXPECT_NEAR(p.notes[3].onset_s, 1.0 + 2.0 / 3, 1e-12);
    EXPECT_DOUBLE_EQ(p.notes[4].onset_s, 2.0);
    EXPECT_DOUBLE_EQ(p.notes[5].onset_s, 3.0);
    EXPECT_DOUBLE_EQ(p.notes[5].offset_s, 7.0);
    ASSERT_EQ(p.tempos.size(), 2u);
    EXPECT_DOUBLE_EQ(p.tempos[1].time_s, 1.0);
    EXPECT_DOUBLE_EQ(umt::seconds_to_quarters(p.tempos, 3.0), 4.0);
}

TEST(Playback, TiesMergeAcrossBarlinesAndChords) {
    Note g1 = note('G', 4, 2), c1 = note('C', 5, 2);
    g1.tie_start = true;
    c1.chord = true;  // the C is not tied: it must be struck again
    Note g2 = note('G', 4, 1), c2 = note('C', 5, 1);
    g2.tie_stop = true;
    c2.chord = true;
    Note orphan = note('A', 4, 1);
    orphan.tie_stop = true;  // a stop without a start still sounds
    auto s = one_part({measure({rest(2), g1, c1}), measure({g2, c2, orphan, rest(2)})});
    const auto p = umt::render_score(s);
    ASSERT_EQ(p.notes.size(), 4u);
    EXPECT_EQ(p.notes[0].pitch, 67);
    EXPECT_DOUBLE_EQ(p.notes[0].onset_s, 1.0);
    EXPECT_DOUBLE_EQ(p.notes[0].offset_s, 2.5);  // half + quarter
    EXPECT_EQ(p.notes[2].pitch, 72);
    EXPECT_DOUBLE_EQ(p.notes[2].onset_s, 2.0);
    EXPECT_EQ(p.notes[3].pitch, 69);
    EXPECT_DOUBLE_EQ(p.notes[3].onset_s, 2.5);
}

TEST(Playback, TiesOverAGapHoldTheKeyUntilTheTiedNote) {
    // A broken chord F#4 A4 D5 in eighths, each tied into the chord on beat 3 (the ties of the
    // first two span a rest): the keys are held, the chord is not struck again, and the F#5
    // that has no tie is struck.
    Note fs = note('F', 4, Rational(1, 2)), a = note('A', 4, Rational(1, 2)), d = note('D', 5, Rational(1, 2));
    fs.pitch.alter = 1;
    fs.tie_start = a.tie_start = d.tie_start = true;
    Note cf = fs, ca = a, cd = d, top = note('F', 5, 2);
    for (Note* n : {&cf, &ca, &cd}) {
        n->duration = 2;
        n->tie_start = false;
        n->tie_stop = true;
    }
    top.pitch.alter = 1;
    ca.chord = cd.chord = top.chord = true;
    auto s = one_part({measure({fs, a, d, rest(Rational(1, 2)), cf, ca, cd, top})});
    const auto p = umt::render_score(s);
    EXPECT_EQ(onsets(p), (std::vector<std::pair<int, double>>{{66, 0}, {69, 0.25}, {74, 0.5}, {78, 1.0}}));
    for (const auto& n : p.notes) EXPECT_DOUBLE_EQ(n.offset_s, 2.0);

    // Voice 1 ties C4 into the next bar's voice 2, which comes after voice 1's own C4 tie start
    // there in document order: the earlier tie must still be waiting.
    Note c_start = note('C', 4, 1), c_later = note('C', 4, 1), c_cont = note('C', 4, 1, 2);
    c_start.tie_start = c_later.tie_start = true;
    c_cont.tie_stop = true;
    Note c_end = note('C', 4, 1);
    c_end.tie_stop = true;
    const auto r = umt::render_score(one_part(
        {measure({rest(3), c_start}),
         measure({rest(2), c_later, c_end, umt::Backup{Rational(4)}, c_cont, rest(3)})}));
    EXPECT_EQ(onsets(r), (std::vector<std::pair<int, double>>{{60, 1.5}, {60, 3.0}}));
    EXPECT_DOUBLE_EQ(r.notes[0].offset_s, 2.5);

    // Too long a gap (more than 4 quarters) is no tie: the later note is struck.
    Note early = note('C', 4, 1);
    early.tie_start = true;
    Note late = note('C', 4, 1);
    late.tie_stop = true;
    const auto q = umt::render_score(one_part({measure({early, rest(3)}), measure({rest(3)}), measure({late, rest(3)})}));
    EXPECT_EQ(q.notes.size(), 2u);
}

TEST(Playback, GraceNotesBeforeTheBeatTakeTimeFromThePreviousNote) {
    Note g1 = note('B', 4, 0), g2 = note('D', 5, 0);
    g1.grace = g2.grace = true;
    auto s = one_part({measure({note('A', 4, 1), g1, g2, note('C', 5, 3)})});
    umt::PlaybackOptions opts;
    opts.grace_s = 0.05;
    const auto p = umt::render_score(s, opts);
    ASSERT_EQ(p.notes.size(), 4u);
    EXPECT_EQ(p.notes[0].pitch, 69);
    EXPECT_NEAR(p.notes[0].offset_s, 0.4, 1e-12);  // shortened to make room
    EXPECT_EQ(p.notes[1].pitch, 71);
    EXPECT_NEAR(p.notes[1].onset_s, 0.4, 1e-12);
    EXPECT_NEAR(p.notes[2].onset_s, 0.45, 1e-12);
    EXPECT_EQ(p.notes[3].pitch, 72);
    EXPECT_DOUBLE_EQ(p.notes[3].onset_s, 0.5);  // the principal stays on the beat

    opts.grace_on_beat = true;
    const auto q = umt::render_score(s, opts);
    ASSERT_EQ(q.notes.size(), 4u);
    EXPECT_DOUBLE_EQ(q.notes[0].offset_s, 0.5);
    EXPECT_DOUBLE_EQ(q.notes[1].onset_s, 0.5);
    EXPECT_NEAR(q.notes[3].onset_s, 0.6, 1e-12);  // delayed by both graces
}

TEST(Playback, CueNotesAreSilentUnlessAsked) {
    Note cue = note('E', 4, 1), cue_grace = note('F', 4, 0);
    cue.cue = cue_grace.cue = true;
    cue_grace.grace = true;
    auto s = one_part({measure({note('C', 4, 1), cue_grace, cue, rest(2)})});
    EXPECT_EQ(onsets(umt::render_score(s)), (std::vector<std::pair<int, double>>{{60, 0}}));
    umt::PlaybackOptions opts;
    opts.play_cue_notes = true;
    const auto p = umt::render_score(s, opts);
    ASSERT_EQ(p.notes.size(), 3u);
    EXPECT_EQ(p.notes[2].pitch, 64);
    EXPECT_DOUBLE_EQ(p.notes[2].onset_s, 0.5);
}

TEST(Playback, LongAppoggiaturasTakeHalfOrTwoThirdsOfThePrincipal) {
    // An unslashed grace before a quarter takes an eighth of it; two before a dotted quarter
    // share two thirds of it; a slashed one stays short (grace_s) on the beat.
    Note app = note('D', 5, 0), a1 = note('F', 5, 0), a2 = note('E', 5, 0), acc = note('B', 4, 0);
    app.grace = a1.grace = a2.grace = acc.grace = true;
    acc.grace_slash = true;
    auto s = one_part({measure({app, note('C', 5, 1), a1, a2, note('D', 5, Rational(3, 2)), acc,
                                note('C', 5, Rational(1, 2)), rest(1)})});
    umt::PlaybackOptions opts;
    opts.grace_on_beat = true;
    opts.long_appoggiaturas = true;
    opts.grace_s = 0.05;
    const auto p = umt::render_score(s, opts);
    EXPECT_EQ(onsets(p), (std::vector<std::pair<int, double>>{
                             {74, 0.0}, {72, 0.25}, {77, 0.5}, {76, 0.75}, {74, 1.0}, {71, 1.25}, {72, 1.3}}));
    EXPECT_DOUBLE_EQ(p.notes[0].offset_s, 0.25);
    EXPECT_DOUBLE_EQ(p.notes[4].offset_s, 1.25);  // the principal keeps its written end
    opts.long_appoggiaturas = false;
    EXPECT_NEAR(umt::render_score(s, opts).notes[1].onset_s, 0.05, 1e-12);
}

TEST(Playback, MeasureRestAndEmptyMeasureKeepTime) {
    Note mr = rest(4);
    mr.measure_rest = true;
    auto s = one_part({measure({mr}), measure({}), measure({note('C', 4, 4)})});
    const auto p = umt::render_score(s);
    ASSERT_EQ(p.notes.size(), 1u);
    EXPECT_DOUBLE_EQ(p.notes[0].onset_s, 4.0);
}

umt::Barline bar(const std::string& loc, const std::string& repeat, const std::string& ending = "",
                 std::vector<int> numbers = {}) {
    umt::Barline b;
    b.location = loc;
    b.repeat = repeat;
    b.ending_type = ending;
    b.ending_numbers = std::move(numbers);
    return b;
}

TEST(Playback, RepeatsAndVoltasExpandOnlyWhenAsked) {
    // | C | :|[1 D :|[2 E | F |   -> C D C E F with repeats, C D E F without.
    std::vector<umt::Measure> ms = {measure({note('C', 4, 4)}), measure({note('D', 4, 4)}),
                                    measure({note('E', 4, 4)}), measure({note('F', 4, 4)})};
    ms[0].barlines.push_back(bar("left", "forward"));
    ms[1].barlines.push_back(bar("left", "", "start", {1}));
    ms[1].barlines.push_back(bar("right", "backward", "stop", {1}));
    ms[2].barlines.push_back(bar("left", "", "start", {2}));
    ms[2].barlines.push_back(bar("right", "", "discontinue", {2}));
    auto s = one_part(ms);
    auto pitches = [](const umt::Performance& p) {
        std::vector<int> v;
        for (const auto& n : p.notes) v.push_back(n.pitch);
        return v;
    };
    EXPECT_EQ(pitches(umt::render_score(s)), (std::vector<int>{60, 62, 64, 65}));
    umt::PlaybackOptions opts;
    opts.expand_repeats = true;
    const auto p = umt::render_score(s, opts);
    EXPECT_EQ(pitches(p), (std::vector<int>{60, 62, 60, 64, 65}));
    EXPECT_DOUBLE_EQ(p.notes[4].onset_s, 8.0);

    // A plain end repeat with no start repeat goes back to the beginning, then a second
    // section repeats on its own: |A B :| C :|  -> A B A B C C
    std::vector<umt::Measure> ms2 = {measure({note('A', 4, 4)}), measure({note('B', 4, 4)}),
                                     measure({note('C', 5, 4)})};
    ms2[1].barlines.push_back(bar("right", "backward"));
    ms2[2].barlines.push_back(bar("right", "backward"));
    EXPECT_EQ(pitches(umt::render_score(one_part(ms2), opts)), (std::vector<int>{69, 71, 69, 71, 72, 72}));
}

TEST(Playback, DynamicsProgramsAndChannels) {
    umt::Direction pp, loud;
    pp.dynamic_mark = "pp";
    loud.dynamics = 100.0;
    Note accented = note('E', 4, 1);
    accented.velocity = 45;  // <note dynamics="50">, as the MusicXML reader stores it
    umt::Score s = one_part({measure({pp, note('C', 4, 1), loud, note('D', 4, 1), accented, rest(1)})});
    s.parts[0].midi_program = 40;
    umt::Part second = s.parts[0];
    second.midi_program = 0;
    s.parts.push_back(second);
    const auto p = umt::render_score(s);
    ASSERT_EQ(p.notes.size(), 6u);
    std::map<int, int> channel_of_program;
    for (const auto& n : p.notes) {
        channel_of_program[n.program] = n.channel;
        if (n.pitch == 60) EXPECT_EQ(n.velocity, 33);
        if (n.pitch == 62) EXPECT_EQ(n.velocity, 90);
        if (n.pitch == 64) EXPECT_EQ(n.velocity, 45);
    }
    EXPECT_EQ(channel_of_program.size(), 2u);
    EXPECT_NE(channel_of_program[40], channel_of_program[0]);

    umt::PlaybackOptions only_second;
    only_second.part = 1;
    const auto q = umt::render_score(s, only_second);
    ASSERT_EQ(q.notes.size(), 3u);
    EXPECT_EQ(q.notes[0].program, 0);
    only_second.part = 5;
    EXPECT_THROW(umt::render_score(s, only_second), umt::Error);
}

TEST(Playback, TremolosSoundAsRepeatedAndAlternatingNotes) {
    // A half note with three strokes: 32nds (1/8 quarter) filling two quarters, sixteen of
    // them; then a two-note tremolo C/E written as two quarters with one stroke:
    // eighths alternating C E C E over the two quarters.
    Note single = note('G', 4, 2);
    single.tremolo = umt::Tremolo{"single", 3};
    Note a = note('C', 4, 1), b = note('E', 4, 1);
    // As MuseScore writes them: two half notes at 2:1 make a half-note tremolo.
    a.time_modification = b.time_modification = umt::TimeModification{2, 1, ""};
    a.tremolo = umt::Tremolo{"start", 1};
    b.tremolo = umt::Tremolo{"stop", 1};
    auto s = one_part({measure({single, a, b})});
    const auto p = umt::render_score(s);
    std::vector<std::pair<int, double>> want;
    for (int k = 0; k < 16; ++k) want.push_back({67, k * 0.0625});
    for (int k = 0; k < 4; ++k) want.push_back({k % 2 ? 64 : 60, 1.0 + k * 0.25});
    ASSERT_EQ(onsets(p).size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(p.notes[i].pitch, want[i].first) << i;
        EXPECT_NEAR(p.notes[i].onset_s, want[i].second, 1e-12) << i;
    }
    EXPECT_NEAR(p.notes.back().offset_s, 2.0, 1e-12);

    // Chords alternate as wholes; strokes that do not divide the note play it as written.
    Note c1 = note('C', 4, 1), c2 = note('G', 4, 1), d1 = note('D', 4, 1), odd = note('A', 4, Rational(3, 4));
    c2.chord = true;
    c1.tremolo = umt::Tremolo{"start", 2};
    d1.tremolo = umt::Tremolo{"stop", 2};
    odd.tremolo = umt::Tremolo{"single", 1};
    const auto q = umt::render_score(one_part({measure({c1, c2, d1, odd})}));
    ASSERT_EQ(q.notes.size(), 4u * 2 + 4u + 1u);  // 4 C+G chords, 4 Ds, the A once
    EXPECT_EQ(q.notes.back().pitch, 69);
    EXPECT_DOUBLE_EQ(q.notes.back().onset_s, 1.0);

    // In a triplet, one stroke means triplet eighths: a half note of a 3:2 group (4/3 quarter)
    // sounds as four notes a third of a quarter apart.
    Note trip = note('B', 4, Rational(4, 3));
    trip.time_modification = umt::TimeModification{3, 2, ""};
    trip.tremolo = umt::Tremolo{"single", 1};
    const auto r = umt::render_score(one_part({measure({trip, note('C', 5, Rational(8, 3))})}));
    ASSERT_EQ(r.notes.size(), 5u);
    EXPECT_NEAR(r.notes[3].onset_s, 0.5, 1e-12);
    EXPECT_NEAR(r.notes[4].onset_s, 2.0 / 3, 1e-12);

    umt::PlaybackOptions off;
    off.expand_tremolos = false;
    EXPECT_EQ(umt::render_score(s, off).notes.size(), 3u);
}

TEST(Playback, UnisonsAcrossVoicesStrikeTheKeyOnce) {
    // Voice 1 holds E4 for the bar; voice 2 strikes E4 again on beat 2 and on beat 4 with a
    // note lasting into the next bar: the key is down, so both are absorbed and it is held on.
    Note held = note('E', 4, 4, 1);
    Note tied_on = note('E', 4, 1, 2);
    tied_on.tie_start = true;
    Note tied_end = note('E', 4, 1, 2);
    tied_end.tie_stop = true;
    auto s = one_part({measure({held, umt::Backup{Rational(4)}, rest(1), note('E', 4, 1, 2), rest(1), tied_on}),
                       measure({tied_end, rest(3)})});
    for (auto& e : s.parts[0].measures[0].elements)
        if (auto* n = std::get_if<Note>(&e); n && n->is_rest) n->voice = 2;
    const auto p = umt::render_score(s);
    ASSERT_EQ(p.notes.size(), 1u);
    EXPECT_DOUBLE_EQ(p.notes[0].onset_s, 0.0);
    EXPECT_DOUBLE_EQ(p.notes[0].offset_s, 2.5);  // to the end of the tied voice-2 note

    umt::PlaybackOptions keep;
    keep.merge_unisons = false;
    EXPECT_EQ(umt::render_score(s, keep).notes.size(), 3u);
}

TEST(Playback, ArpeggiosRollOnlyWhenAsked) {
    // A quarter chord G3 C4 E4 rolled at 60 qpm: 1/15 s per note from the bottom, whatever the
    // tempo; an eighth chord of four notes is too short for that and rolls faster.
    umt::Direction slow;
    slow.tempo_qpm = 60.0;
    Note e = note('E', 4, 1), g = note('G', 3, 1), c = note('C', 4, 1);
    e.arpeggiate = true;
    g.chord = c.chord = true;
    Note s1 = note('C', 4, Rational(1, 8)), s2 = note('E', 4, Rational(1, 8)), s3 = note('G', 4, Rational(1, 8)),
         s4 = note('C', 5, Rational(1, 8));
    s2.chord = s3.chord = s4.chord = true;
    s1.arpeggiate = true;
    auto s = one_part({measure({slow, e, g, c, s1, s2, s3, s4, rest(Rational(23, 8))})});
    umt::PlaybackOptions opts;
    EXPECT_EQ(onsets(umt::render_score(s, opts)),
              (std::vector<std::pair<int, double>>{{55, 0}, {60, 0}, {64, 0}, {60, 1}, {64, 1}, {67, 1}, {72, 1}}));
    opts.roll_arpeggios = true;
    const auto p = umt::render_score(s, opts);
    ASSERT_EQ(p.notes.size(), 7u);
    EXPECT_EQ(p.notes[0].pitch, 55);
    EXPECT_DOUBLE_EQ(p.notes[0].onset_s, 0.0);
    EXPECT_NEAR(p.notes[1].onset_s, 64.0 / 960, 1e-12);
    EXPECT_NEAR(p.notes[2].onset_s, 128.0 / 960, 1e-12);
    EXPECT_DOUBLE_EQ(p.notes[2].offset_s, 1.0);  // the roll keeps the written end
    // 60 ticks of chord: 64 -> 42 -> 28 -> 18 -> 12 ticks a step before four fit.
    EXPECT_EQ(p.notes[6].pitch, 72);
    EXPECT_NEAR(p.notes[6].onset_s, 1.0 + 3 * 12.0 / 960, 1e-12);

    // With graces on the beat, a rolled principal is not delayed: the roll starts on the beat.
    Note grace = note('D', 3, 0);
    grace.grace = true;
    auto t = one_part({measure({slow, grace, e, g, c, rest(3)})});
    opts.grace_on_beat = true;
    const auto q = umt::render_score(t, opts);
    ASSERT_EQ(q.notes.size(), 4u);
    EXPECT_EQ(q.notes[0].pitch, 50);
    EXPECT_EQ(q.notes[1].pitch, 55);
    EXPECT_DOUBLE_EQ(q.notes[1].onset_s, 0.0);
}

// Key of a note list in score time: (pitch, onset in 1/480 quarter).
std::multiset<std::pair<int, long>> quarter_keys(const umt::Performance& p) {
    std::multiset<std::pair<int, long>> out;
    for (const auto& n : p.notes)
        out.insert({n.pitch, std::lround(umt::seconds_to_quarters(p.tempos, n.onset_s) * 480)});
    return out;
}

TEST(Playback, AgreesWithMuseScoreOnFixture) {
    // two_staves.musicxml: repeat, tie across the barline (and across the repeat jump), triplet,
    // chord, grace; musescore_two_staves.mid is `mscore3 -o` of it.
    const std::string dir = std::string(UMT_SOURCE_DIR) + "/tests/data/midi/";
    const umt::Score score = umt::read_score(dir + "two_staves.musicxml");
    const umt::Performance ms = umt::read_midi(dir + "musescore_two_staves.mid");
    umt::PlaybackOptions opts;
    opts.expand_repeats = true;
    opts.grace_on_beat = true;
    // MuseScore delays the principal by its grace time rounded to ticks; compare the rest exactly.
    auto ours = quarter_keys(umt::render_score(score, opts));
    auto theirs = quarter_keys(ms);
    ASSERT_EQ(ours.size(), theirs.size());
    auto drop_principal = [](std::multiset<std::pair<int, long>>& k) {
        for (auto it = k.begin(); it != k.end(); ++it)
            if (it->first == 72 && it->second > 9 * 480 && it->second < 10 * 480) {
                k.erase(it);
                return true;
            }
        return false;
    };
    EXPECT_TRUE(drop_principal(ours));
    EXPECT_TRUE(drop_principal(theirs));
    EXPECT_EQ(ours, theirs);
    // Our default puts the grace before the beat and keeps the principal on it.
    const auto def = umt::render_score(score, [] { umt::PlaybackOptions o; o.expand_repeats = true; return o; }());
    const auto keys = quarter_keys(def);
    EXPECT_EQ(keys.count({72, 9 * 480}), 1u);
    EXPECT_EQ(keys.size(), 16u);
}

}  // namespace
