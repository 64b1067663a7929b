// The notation model every format meets at: parts -> measures -> ordered elements.
//
// It mirrors partwise MusicXML closely (document order of notes, backup, forward and
// attributes is kept) because LMX is defined over that order and must round-trip exactly.
// Durations are exact rationals measured in quarter notes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "umt/core/rational.hpp"

namespace umt {

// An element kept verbatim because the model has no field for it (harmony, fingering,
// staff-details, credits, layout...): written back as read, so MusicXML -> MusicXML keeps
// it. Attributes keep their document order; `text` is the element's own text.
struct XmlElement {
    std::string name;
    std::vector<std::pair<std::string, std::string>> attributes;
    std::string text;
    std::vector<XmlElement> children;
    std::string attribute(const std::string& key) const;  // "" when absent
    const XmlElement* child(const std::string& child_name) const;  // nullptr when absent
};

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
    bool numbered = false;  // written with a number attribute (some files number the only staff)
    std::vector<std::pair<std::string, std::string>> attributes;  // print-object, after-barline...
};

// One <attributes> block; empty optionals mean "not restated here".
struct Attributes {
    std::optional<int> divisions;
    std::optional<Key> key;
    std::optional<TimeSignature> time;
    std::optional<int> staves;
    std::vector<Clef> clefs;
    std::vector<XmlElement> extras;  // staff-details, transpose, measure-style... verbatim
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

// One syllable of a lyric; a lyric holds several when they are joined by an elision
// (one note sung to "e'il": <text>e</text><elision/><text>il</text>).
struct Syllable {
    std::string syllabic;  // "single", "begin", "middle", "end" or empty
    std::string text;
    std::string elision;   // the elision's text before this syllable (often "" or "‿")
    bool has_elision = false;
};

struct Lyric {
    std::string number;            // verse: "1", "2"... (MusicXML allows any token)
    std::string name;              // e.g. "verse", "chorus"; empty when absent
    std::vector<Syllable> syllables;
    std::string extend;            // "<extend>" present: its type ("start", "stop", "continue") or "yes" when untyped
    bool laughing = false, humming = false;
    bool end_line = false, end_paragraph = false;
    std::vector<std::pair<std::string, std::string>> attributes;  // placement, default-y, print-object... as read
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
    std::vector<Lyric> lyrics;
    // What the fields above do not hold, verbatim: note children (notehead, instrument,
    // play...), <notations> children (technical, dynamics, other-notation, non-arpeggiate,
    // accidental-mark, glissando...) and the unmodelled children of <ornaments> and
    // <articulations> (turn, wavy-line, mordent, breath-mark, soft-accent...).
    std::vector<XmlElement> extras;
    std::vector<XmlElement> extra_notations;
    std::vector<XmlElement> extra_ornaments;
    std::vector<XmlElement> extra_articulations;
    std::vector<std::pair<std::string, std::string>> accidental_attributes;  // cautionary, editorial, parentheses
    // XML attributes of the elements held as fields above, by element name ("type" size="cue",
    // "fermata" type, "arpeggiate" number, "strong-accent" type, the first "notations"
    // print-object...), written back with them.
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> element_attributes;
    std::vector<std::vector<std::pair<std::string, std::string>>> tuplet_attributes;  // parallel to tuplets, less type
    std::vector<std::vector<std::pair<std::string, std::string>>> slur_attributes;    // parallel to slurs, less type/number
    std::vector<std::vector<std::pair<std::string, std::string>>> beam_attributes;    // parallel to beams, less number
};

struct Backup { Rational duration; };
struct Forward { Rational duration; int voice = 0; int staff = 0; };

// A <direction> (or a bare <sound>). Playback reads the typed fields; `types` holds
// every <direction-type> child as read (words, wedge, dynamics, metronome, pedal,
// octave-shift, dashes, bracket, rehearsal, segno, coda...), one per <direction-type>.
// Scores built in code may leave `types` empty: the writer then derives it from
// dynamic_mark.
struct Direction {
    std::optional<double> tempo_qpm;     // <sound tempo>
    std::optional<double> dynamics;      // <sound dynamics> (percent of forte: 100 = ~90 velocity)
    std::string dynamic_mark;            // "p", "mf", ... from <dynamics>
    int staff = 1;
    Rational offset;                     // <offset> in quarters
    std::vector<std::vector<XmlElement>> types;  // children of each <direction-type>
    std::vector<std::pair<std::string, std::string>> attributes;        // placement, directive...
    std::vector<std::pair<std::string, std::string>> sound_attributes;  // <sound> besides tempo/dynamics (damper-pedal, segno...)
    std::vector<XmlElement> sound_children;  // <sound> children (midi-instrument, play...)
    bool has_staff = true;
    bool bare_sound = false;             // a <sound> directly in the measure, not in a <direction>
    std::string voice;                   // <voice>, empty when absent
};

// A measure child the model does not interpret (harmony, figured-bass, grouping...).
struct OtherElement { XmlElement xml; };

using MeasureElement = std::variant<Attributes, Note, Backup, Forward, Direction, OtherElement>;

struct Barline {
    std::string location = "right";  // "left", "right", "middle"
    std::string repeat;              // "forward", "backward" or empty
    int times = 2;                   // repeat times for backward repeats
    std::string ending_type;         // "start", "stop", "discontinue" or empty
    std::vector<int> ending_numbers; // e.g. {1, 2}
    std::string bar_style;           // <bar-style> as read; empty: derived from the repeat
    std::string ending_text;         // <ending> text ("1.", "2.") when present
    std::string ending_number_text;  // the number attribute as written ("1, 2"); wins over ending_numbers
    std::vector<std::pair<std::string, std::string>> ending_attributes;  // print-object, end-length...
    std::vector<std::pair<std::string, std::string>> repeat_attributes;  // winged, after-jump...
    std::vector<XmlElement> extras;  // fermata, segno, coda, wavy-line... verbatim
};

struct Measure {
    std::string number;
    bool implicit = false;
    bool new_system = false;   // <print new-system="yes">
    bool new_page = false;
    std::optional<XmlElement> print;   // the whole <print> (layout, numbering); new_system/new_page win
    std::vector<std::pair<std::string, std::string>> attributes;  // width, ... besides number/implicit
    std::vector<MeasureElement> elements;
    std::vector<Barline> barlines;
};

struct Part {
    std::string id = "P1";
    std::string name;
    std::string abbreviation;  // <part-abbreviation>
    std::vector<std::pair<std::string, std::string>> name_attributes;  // <part-name print-object="no">...
    int midi_program = 0;      // 0-based General MIDI program, from <midi-instrument>
    int midi_channel = -1;     // 0-based, -1 when unset
    // The <score-part> children besides part-name/part-abbreviation, verbatim (score-instrument,
    // midi-device, midi-instrument with volume and pan, part-name-display...). When present the
    // writer keeps them, with midi-program/midi-channel of the first midi-instrument taken from
    // the fields above.
    std::vector<XmlElement> score_part_extras;
    std::vector<Measure> measures;
    int staff_count() const;   // from the first <staves>, 1 when absent
};

struct Creator {
    std::string type;  // "composer", "lyricist", "arranger"...; may be empty
    std::string text;
};

struct Score {
    std::string title;     // <work-title>, else <movement-title>
    std::string composer;  // the first composer creator
    std::vector<Part> parts;
    // The header as read. A score built in code leaves these empty and the writer uses
    // title/composer.
    std::string work_title, work_number, movement_title, movement_number;
    std::vector<Creator> creators;                  // every <creator>, in order
    std::vector<std::string> rights;
    std::string source;                             // <identification><source>
    std::optional<XmlElement> encoding;             // <encoding> as read (software, date, supports)
    std::vector<XmlElement> identification_extras;  // relation, miscellaneous
    std::optional<XmlElement> defaults;             // page and system layout, fonts
    std::vector<XmlElement> credits;                // title/composer text on the page
    // <part-group> elements of the part-list, each with the number of <score-part>s before it.
    std::vector<std::pair<size_t, XmlElement>> part_groups;

    // The piano part of a piano-vocal score: the first two-staff part named like a
    // keyboard (piano, klavier, organ...), else the first part with two staves;
    // falls back to the last part. Throws when the score has no parts.
    const Part& default_part() const;
    size_t default_part_index() const;
};

}  // namespace umt
