// Counting what a conversion drops (see include/umt/io/losses.hpp).
#include "umt/io/losses.hpp"

#include <map>

namespace umt {

namespace {

// Counts of the notation kinds that some target cannot hold, over the parts selected.
struct NotationCensus {
    std::map<std::string, long> n;

    void add(const std::string& what, long count = 1) { n[what] += count; }
    long get(const std::string& what) const {
        auto it = n.find(what);
        return it == n.end() ? 0 : it->second;
    }

    void direction(const Direction& d) {
        for (const auto& type : d.types)
            for (const auto& x : type) {
                if (x.name == "dynamics") add("dynamics");
                else if (x.name == "wedge" && x.attribute("type") != "stop") add("hairpins");
                else if (x.name == "words") add("text directions");
                else if (x.name == "metronome") add("metronome marks");
                else if (x.name == "pedal" && x.attribute("type") != "stop" && x.attribute("type") != "continue") add("pedal marks");
                else if (x.name == "octave-shift" && x.attribute("type") != "stop" && x.attribute("type") != "continue") add("octave shifts");
                else if (x.name == "rehearsal") add("rehearsal marks");
                else if (x.name == "segno" || x.name == "coda") add("segno/coda signs");
                else if (x.name == "dashes" || x.name == "bracket") {
                    if (x.attribute("type") == "start") add("lines (dashes, brackets)");
                } else if (x.name == "other-direction") add("other directions");
            }
        if (d.types.empty() && !d.dynamic_mark.empty()) add("dynamics");
        for (const auto& [k, v] : d.sound_attributes)
            if (k == "dacapo" || k == "dalsegno" || k == "tocoda" || k == "fine") add("jumps (D.C., D.S., coda, fine)");
    }

    void note(const Note& note) {
        add("lyrics", static_cast<long>(note.lyrics.size()));
        for (const auto& [type, number] : note.slurs)
            if (type == "start") add("slurs");
        if (note.staccato || note.accent || note.strong_accent || note.tenuto || note.staccatissimo) add("articulated notes");
        if (note.staccatissimo) add("staccatissimos");
        if (note.fermata) add("fermatas");
        if (note.trill_mark) add("trill marks");
        add("ornaments", static_cast<long>(note.extra_ornaments.size()));  // turns, mordents, wavy lines...
        for (const auto& x : note.extra_articulations) add(x.name == "breath-mark" ? "breath marks" : "other articulations");
        for (const auto& x : note.extra_notations) {
            if (x.name == "technical") add("fingerings and technical marks");
            else if (x.name == "dynamics") add("dynamics");
            else add("other notations");
        }
        for (const auto& x : note.extras)
            if (x.name == "notehead") add("noteheads");
        if (!note.is_rest && !note.grace) add("notes");
    }

    void part(const Part& p) {
        for (const auto& m : p.measures) {
            for (const auto& e : m.elements) {
                if (auto* d = std::get_if<Direction>(&e)) direction(*d);
                else if (auto* nt = std::get_if<Note>(&e)) note(*nt);
                else if (auto* o = std::get_if<OtherElement>(&e)) add(o->xml.name == "harmony" ? "chord symbols" : "other elements");
            }
            for (const auto& b : m.barlines) {
                if (!b.repeat.empty()) add("repeats");
                if (b.ending_type == "start") add("endings");
                bool implied = (b.repeat == "forward" && b.bar_style == "heavy-light") ||
                               (b.repeat == "backward" && b.bar_style == "light-heavy");
                if (!b.bar_style.empty() && b.bar_style != "regular" && !implied) add("barline styles");
                for (const auto& x : b.extras)
                    add(x.name == "fermata" ? "fermatas" : x.name == "segno" || x.name == "coda" ? "segno/coda signs" : "other barline marks");
            }
        }
    }
};

void take(Losses& out, const NotationCensus& c, std::initializer_list<const char*> kinds) {
    for (const char* k : kinds)
        if (long v = c.get(k); v > 0) out.push_back({k, v});
}

}  // namespace

Losses lmx_losses(const Score& score, size_t part_index) {
    NotationCensus all, others;
    for (size_t i = 0; i < score.parts.size(); ++i) {
        all.part(score.parts[i]);
        if (i != part_index) others.part(score.parts[i]);
    }
    Losses out;
    // LMX holds slurs, fermatas, staccato, accent, strong-accent, tenuto and trill marks;
    // not the rest (LMX.md: "Not represented").
    take(out, all, {"lyrics", "dynamics", "hairpins", "text directions", "metronome marks", "pedal marks",
                    "octave shifts", "rehearsal marks", "segno/coda signs", "lines (dashes, brackets)",
                    "other directions", "jumps (D.C., D.S., coda, fine)", "repeats", "endings", "barline styles",
                    "staccatissimos", "breath marks", "other articulations", "fingerings and technical marks",
                    "ornaments", "other notations", "noteheads", "chord symbols", "other elements",
                    "other barline marks"});
    if (score.parts.size() > 1) {
        long notes = others.get("notes");
        out.push_back({"notes in " + std::to_string(score.parts.size() - 1) + " other part" +
                           (score.parts.size() > 2 ? "s" : ""),
                       notes});
    }
    return out;
}

Losses midi_losses(const Score& score, bool repeats_played, int part) {
    NotationCensus written, others;
    for (size_t i = 0; i < score.parts.size(); ++i) {
        if (part < 0 || static_cast<size_t>(part) == i) written.part(score.parts[i]);
        else others.part(score.parts[i]);
    }
    Losses out;
    // Playback realizes notes, ties, graces, tremolos, tempo and dynamics (as velocity), and
    // the repeats when asked; the rest of the notation does not sound.
    take(out, written, {"lyrics", "text directions", "hairpins", "pedal marks", "slurs", "articulated notes",
                        "fermatas", "trill marks", "ornaments", "jumps (D.C., D.S., coda, fine)"});
    if (!repeats_played) take(out, written, {"repeats", "endings"});
    if (part >= 0 && score.parts.size() > 1)
        out.push_back({"notes in " + std::to_string(score.parts.size() - 1) + " other part" + (score.parts.size() > 2 ? "s" : ""),
                       others.get("notes")});
    return out;
}

Losses quantize_losses(const Performance& perf) {
    Losses out;
    // The quantizer writes notes on a grid and one tempo: pedalling does not survive, and
    // neither do the exact onsets, offsets and velocities (counted as the notes affected).
    if (!perf.pedals.empty()) out.push_back({"pedal events", static_cast<long>(perf.pedals.size())});
    if (!perf.notes.empty()) out.push_back({"note timings and velocities (quantized)", static_cast<long>(perf.notes.size())});
    if (perf.tempos.size() > 1) out.push_back({"tempo changes", static_cast<long>(perf.tempos.size())});
    return out;
}

std::string describe(const Losses& losses) {
    std::string s;
    for (const auto& l : losses) {
        if (l.count <= 0) continue;
        if (!s.empty()) s += ", ";
        s += std::to_string(l.count) + " " + l.what;
    }
    return s;
}

}  // namespace umt
