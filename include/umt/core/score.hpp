// The notation model every format meets at: parts -> measures -> ordered elements.
//
// It mirrors partwise MusicXML closely (document order of notes, backup, forward and
// attributes is kept) because LMX is defined over that order and must round-trip exactly.
// Durations are exact rationals measured in quarter notes.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "umt/core/rational.hpp"

namespace umt {

struct Pitch {
    char step = 'C';   // 'A'..'G'
    int alter = 0;     // semitones (microtonal alters are rounded on read)
    int octave = 4;    // scientific octave, C4 = middle C
    int midi() const;  // MIDI key number, C4 = 60
    bool operator==(const Pitch& o) const { return step == o.step && alter == o.alter && octave == o.octave; }
};

struct Key {
    int fifths = 0;
    std::string mode;  // "major", "minor" or empty
};

struct TimeSignature {
    int beats = 4;
    int beat_type = 4;
    std::string symbol;  // "common", "cut" or empty
    Rational measure_length() const { return Rational(beats * 4, beat_type); }
};

struct Clef {
    char sign = 'G';  // 'G', 'F', 'C', also 'P' (percussion) / 'T' (tab) read through
    int line = 2;
    int octave_change = 0;
    int staff = 1;
};

// One <attributes> block; empty optionals mean "not restated here".
struct Attributes {
    std::optional<int> divisions;
    std::optional<Key> key;
    std::optional<TimeSignature> time;
    std::optional<int> staves;
    std::vector<Clef> clefs;
};

struct TimeModification {
    int actual = 3;
    int normal = 2;
    std::string normal_type;  // optional <normal-type>
};

struct Beam {
    int number = 1;
    std::string value;  // "begin", "continue", "end", "forward hook", "backward hook"
};

struct Tremolo {
    std::string type;  // "single", "start", "stop", "unmeasured"
    int marks = 0;
};

struct Note {
    bool is_rest = false;
    bool measure_rest = false;      // <rest measure="yes"/>
    bool chord = false;             // <chord/>: shares the onset of the previous note
    bool grace = false;
    bool grace_slash = false;
    bool print_object = true;       // print-object="no" -> false
    bool cue = false;
    Pitch pitch;                    // meaningless for rests
    std::optional<Pitch> display;   // rest display-step/octave, unpitched display
    Rational duration;              // quarters; 0 for grace notes
    std::string type;               // "quarter", "eighth", ... empty when absent
    int dots = 0;
    std::optional<TimeModification> time_modification;
    std::string accidental;         // printed accidental: "sharp", "flat", "natural", ...
    std::string stem;               // "up", "down", "none", "double" or empty
    int voice = 1;
    int staff = 1;
    std::vector<Beam> beams;
    bool tie_start = false, tie_stop = false;      // <tie> (sound)
    bool tied_start = false, tied_stop = false;    // <tied> (notation)
    std::vector<std::string> tuplets;              // "start"/"stop" in document order
    std::vector<std::pair<std::string, int>> slurs;  // (type, number) in document order
    bool fermata = false, arpeggiate = false, staccato = false, accent = false;
    bool strong_accent = false, tenuto = false, trill_mark = false, staccatissimo = false;
    std::optional<Tremolo> tremolo;
    int velocity = -1;              // <note dynamics>, -1 when absent
    // LMX writes only what the MusicXML holds, so these remember absence and order.
    bool has_voice = true;          // false when the note had no <voice>
    bool has_staff = true;          // false when the note had no <staff>
    std::vector<std::string> tied_types;  // <tied> types in document order (tied_start/stop agree)
};

struct Backup { Rational duration; };
struct Forward { Rational duration; int voice = 0; int staff = 0; };

// Things from <direction>/<sound> that matter for playback.
struct Direction {
    std::optional<double> tempo_qpm;     // <sound tempo>
    std::optional<double> dynamics;      // <sound dynamics> (percent of forte: 100 = ~90 velocity)
    std::string dynamic_mark;            // "p", "mf", ... from <dynamics>
    int staff = 1;
    Rational offset;                     // <offset> in quarters
};

using MeasureElement = std::variant<Attributes, Note, Backup, Forward, Direction>;

struct Barline {
    std::string location = "right";  // "left", "right", "middle"
    std::string repeat;              // "forward", "backward" or empty
    int times = 2;                   // repeat times for backward repeats
    std::string ending_type;         // "start", "stop", "discontinue" or empty
    std::vector<int> ending_numbers; // e.g. {1, 2}
};

struct Measure {
    std::string number;
    bool implicit = false;
    bool new_system = false;   // <print new-system="yes">
    bool new_page = false;
    std::vector<MeasureElement> elements;
    std::vector<Barline> barlines;
};

struct Part {
    std::string id = "P1";
    std::string name;
    int midi_program = 0;      // 0-based General MIDI program, from <midi-instrument>
    int midi_channel = -1;     // 0-based, -1 when unset
    std::vector<Measure> measures;
    int staff_count() const;   // from the first <staves>, 1 when absent
};

struct Score {
    std::string title;
    std::string composer;
    std::vector<Part> parts;

    // The piano part of a piano-vocal score: the first two-staff part named like a
    // keyboard (piano, klavier, organ...), else the first part with two staves;
    // falls back to the last part. Throws when the score has no parts.
    const Part& default_part() const;
    size_t default_part_index() const;
};

}  // namespace umt
