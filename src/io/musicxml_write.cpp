// MusicXML writer: Score -> partwise MusicXML 4.0 text or .mxl archive.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <sstream>

#include <zip.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/musicxml.hpp"

namespace umt {

namespace {

std::string esc(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

using AttributeList = std::vector<std::pair<std::string, std::string>>;

std::string attributes_xml(const AttributeList& attrs) {
    std::string out;
    for (const auto& [k, v] : attrs) out += " " + k + "=\"" + esc(v) + "\"";
    return out;
}

// A verbatim element back to text, on one line (MusicXML does not care about white space
// between elements; text inside elements is written as read).
void xml_to(std::ostream& o, const XmlElement& x) {
    o << "<" << x.name << attributes_xml(x.attributes);
    if (x.text.empty() && x.children.empty()) {
        o << "/>";
        return;
    }
    o << ">" << esc(x.text);
    // A line break between children: MuseScore 3's importer misreads some elements that
    // touch their neighbours (an <inverted-mordent/> right before </ornaments> ends the
    // import of the whole part), and white space between elements means nothing in MusicXML.
    for (const auto& c : x.children) {
        o << "\n";
        xml_to(o, c);
    }
    if (!x.children.empty()) o << "\n";
    o << "</" << x.name << ">";
}

std::string xml_text(const XmlElement& x) {
    std::ostringstream o;
    xml_to(o, x);
    return o.str();
}

std::string fmt_double(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

void for_each_duration(const Part& part, const std::function<void(const Rational&)>& fn) {
    for (const auto& m : part.measures)
        for (const auto& e : m.elements) {
            if (auto* n = std::get_if<Note>(&e)) { if (!n->grace) fn(n->duration); }
            else if (auto* b = std::get_if<Backup>(&e)) fn(b->duration);
            else if (auto* f = std::get_if<Forward>(&e)) fn(f->duration);
            else if (auto* d = std::get_if<Direction>(&e)) fn(d->offset);
        }
}

// True when every duration is a whole number of the divisions in force where it
// occurs: then the part's own <divisions> are written back unchanged (LMX splits
// backup/forward durations in those units, so keeping them keeps LMX identical).
bool own_divisions_fit(const Part& part) {
    std::optional<int> divisions;
    for (const auto& m : part.measures)
        for (const auto& e : m.elements) {
            if (auto* a = std::get_if<Attributes>(&e)) {
                if (a->divisions) divisions = a->divisions;
                continue;
            }
            Rational d;
            if (auto* n = std::get_if<Note>(&e)) { if (n->grace) continue; d = n->duration; }
            else if (auto* b = std::get_if<Backup>(&e)) d = b->duration;
            else if (auto* f = std::get_if<Forward>(&e)) d = f->duration;
            else if (auto* dir = std::get_if<Direction>(&e)) d = dir->offset;
            if (!divisions) return false;
            if ((d * Rational(*divisions)).den() != 1) return false;
        }
    return true;
}

int common_divisions(const Part& part) {
    int64_t l = 1;
    for_each_duration(part, [&](const Rational& r) {
        if (l < (int64_t(1) << 24)) l = std::lcm(l, r.den());
    });
    return static_cast<int>(std::min<int64_t>(l, int64_t(1) << 24));
}

const char* tremolo_or(const std::string& s) { return s.empty() ? "single" : s.c_str(); }

class Writer {
public:
    std::string run(const Score& score) {
        o << "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
          << "<!DOCTYPE score-partwise PUBLIC \"-//Recordare//DTD MusicXML 4.0 Partwise//EN\" "
             "\"http://www.musicxml.org/dtds/partwise.dtd\">\n"
          << "<score-partwise version=\"4.0\">\n";
        write_header(score);
        o << "  <part-list>\n";
        size_t group = 0;
        for (size_t i = 0; i < score.parts.size(); ++i) {
            for (; group < score.part_groups.size() && score.part_groups[group].first <= i; ++group)
                o << "    " << xml_text(score.part_groups[group].second) << "\n";
            write_score_part(score.parts[i], part_id(score, i));
        }
        for (; group < score.part_groups.size(); ++group) o << "    " << xml_text(score.part_groups[group].second) << "\n";
        o << "  </part-list>\n";
        for (size_t i = 0; i < score.parts.size(); ++i) write_part(score.parts[i], part_id(score, i));
        o << "</score-partwise>\n";
        return o.str();
    }

private:
    std::ostringstream o;
    bool keep_divisions = true;
    int divisions = 1;

    void write_header(const Score& score) {
        bool from_file = !score.work_title.empty() || !score.work_number.empty() || !score.movement_title.empty();
        std::string work_title = from_file ? score.work_title : score.title;
        if (!work_title.empty() || !score.work_number.empty()) {
            o << "  <work>";
            if (!score.work_number.empty()) o << "<work-number>" << esc(score.work_number) << "</work-number>";
            if (!work_title.empty()) o << "<work-title>" << esc(work_title) << "</work-title>";
            o << "</work>\n";
        }
        if (!score.movement_number.empty()) o << "  <movement-number>" << esc(score.movement_number) << "</movement-number>\n";
        if (!score.movement_title.empty()) o << "  <movement-title>" << esc(score.movement_title) << "</movement-title>\n";
        o << "  <identification>\n";
        if (!score.creators.empty()) {
            for (const auto& c : score.creators) {
                o << "    <creator";
                if (!c.type.empty()) o << " type=\"" << esc(c.type) << "\"";
                o << ">" << esc(c.text) << "</creator>\n";
            }
        } else if (!score.composer.empty()) {
            o << "    <creator type=\"composer\">" << esc(score.composer) << "</creator>\n";
        }
        for (const auto& r : score.rights) o << "    <rights>" << esc(r) << "</rights>\n";
        // The original encoding (its software, date and <supports>) stays; umt adds itself
        // as the software that wrote this file.
        XmlElement encoding;
        if (score.encoding) encoding = *score.encoding;
        encoding.name = "encoding";
        XmlElement umt;
        umt.name = "software";
        umt.text = "umt";
        bool named = false;
        for (const auto& c : encoding.children) named |= c.name == "software" && c.text == "umt";
        auto at = encoding.children.begin();
        while (at != encoding.children.end() && (at->name == "encoding-date" || at->name == "encoder" || at->name == "software")) ++at;
        if (!named) encoding.children.insert(at, umt);
        o << "    " << xml_text(encoding) << "\n";
        if (!score.source.empty()) o << "    <source>" << esc(score.source) << "</source>\n";
        for (const auto& x : score.identification_extras) o << "    " << xml_text(x) << "\n";
        o << "  </identification>\n";
        if (score.defaults) o << "  " << xml_text(*score.defaults) << "\n";
        for (const auto& c : score.credits) o << "  " << xml_text(c) << "\n";
    }

    void write_score_part(const Part& p, const std::string& id) {
        o << "    <score-part id=\"" << esc(id) << "\">\n"
          << "      <part-name" << attributes_xml(p.name_attributes) << ">" << esc(p.name) << "</part-name>\n";
        if (!p.abbreviation.empty()) o << "      <part-abbreviation>" << esc(p.abbreviation) << "</part-abbreviation>\n";
        if (p.score_part_extras.empty()) {
            o << "      <score-instrument id=\"" << esc(id) << "-I1\"><instrument-name>" << esc(p.name)
              << "</instrument-name></score-instrument>\n"
              << "      <midi-instrument id=\"" << esc(id) << "-I1\">";
            if (p.midi_channel >= 0) o << "<midi-channel>" << p.midi_channel + 1 << "</midi-channel>";
            o << "<midi-program>" << p.midi_program + 1 << "</midi-program></midi-instrument>\n";
        } else {
            bool first_midi = true;
            for (XmlElement x : p.score_part_extras) {
                if (x.name == "midi-instrument" && first_midi) {
                    // The fields win over the copy: code may have changed the instrument.
                    first_midi = false;
                    set_child_text(x, "midi-channel", p.midi_channel >= 0 ? std::to_string(p.midi_channel + 1) : "",
                                   {});
                    set_child_text(x, "midi-program", std::to_string(p.midi_program + 1), {"midi-channel", "midi-name", "midi-bank"});
                }
                o << "      " << xml_text(x) << "\n";
            }
        }
        o << "    </score-part>\n";
    }

    // Sets (or with an empty value removes) child `name`; a new child goes after the last of `after`.
    static void set_child_text(XmlElement& x, const std::string& name, const std::string& value,
                               const std::vector<std::string>& after) {
        for (auto it = x.children.begin(); it != x.children.end(); ++it)
            if (it->name == name) {
                if (value.empty()) x.children.erase(it);
                else it->text = value;
                return;
            }
        if (value.empty()) return;
        size_t pos = 0;
        for (size_t i = 0; i < x.children.size(); ++i)
            for (const auto& a : after)
                if (x.children[i].name == a) pos = i + 1;
        XmlElement c;
        c.name = name;
        c.text = value;
        x.children.insert(x.children.begin() + static_cast<std::ptrdiff_t>(pos), c);
    }

    static std::string part_id(const Score& score, size_t i) {
        const std::string& id = score.parts[i].id;
        // Ids must be unique and non-empty; a duplicate gets a fresh one.
        bool ok = !id.empty();
        for (size_t j = 0; j < i && ok; ++j) ok = score.parts[j].id != id;
        return ok ? id : "P" + std::to_string(i + 1);
    }

    std::string units(const Rational& q) const {
        Rational u = q * Rational(divisions);
        if (u.den() == 1) return std::to_string(u.num());
        return std::to_string(std::llround(u.to_double()));
    }

    void write_part(const Part& part, const std::string& id) {
        keep_divisions = own_divisions_fit(part);
        divisions = keep_divisions ? 1 : common_divisions(part);
        o << "  <part id=\"" << esc(id) << "\">\n";
        for (size_t mi = 0; mi < part.measures.size(); ++mi) {
            const Measure& m = part.measures[mi];
            o << "    <measure number=\"" << esc(m.number.empty() ? std::to_string(mi + 1) : m.number) << "\"";
            if (m.implicit) o << " implicit=\"yes\"";
            o << attributes_xml(m.attributes) << ">\n";
            write_print(m);
            for (const auto& b : m.barlines)
                if (b.location == "left") write_barline(b);
            bool first = true;
            if (mi == 0 && !keep_divisions &&
                (m.elements.empty() || !std::holds_alternative<Attributes>(m.elements.front())))
                o << "      <attributes><divisions>" << divisions << "</divisions></attributes>\n";
            for (const auto& e : m.elements) {
                if (auto* a = std::get_if<Attributes>(&e)) write_attributes(*a, mi == 0 && first);
                else if (auto* n = std::get_if<Note>(&e)) write_note(*n);
                else if (auto* b = std::get_if<Backup>(&e))
                    o << "      <backup><duration>" << units(b->duration) << "</duration></backup>\n";
                else if (auto* f = std::get_if<Forward>(&e)) {
                    o << "      <forward><duration>" << units(f->duration) << "</duration>";
                    if (f->voice > 0) o << "<voice>" << f->voice << "</voice>";
                    if (f->staff > 0) o << "<staff>" << f->staff << "</staff>";
                    o << "</forward>\n";
                } else if (auto* d = std::get_if<Direction>(&e)) write_direction(*d);
                else if (auto* x = std::get_if<OtherElement>(&e)) o << "      " << xml_text(x->xml) << "\n";
                first = false;
            }
            for (const auto& b : m.barlines)
                if (b.location != "left") write_barline(b);
            o << "    </measure>\n";
        }
        o << "  </part>\n";
    }

    void write_print(const Measure& m) {
        XmlElement print;
        if (m.print) print = *m.print;
        print.name = "print";
        auto set_flag = [&](const char* key, bool on) {
            auto& a = print.attributes;
            a.erase(std::remove_if(a.begin(), a.end(), [&](const auto& kv) { return kv.first == key; }), a.end());
            if (on) a.emplace_back(key, "yes");
        };
        set_flag("new-system", m.new_system);
        set_flag("new-page", m.new_page);
        if (print.attributes.empty() && print.children.empty()) return;
        o << "      " << xml_text(print) << "\n";
    }

    void write_attributes(const Attributes& a, bool part_start) {
        o << "      <attributes>";
        if (keep_divisions) {
            if (a.divisions) {
                divisions = *a.divisions;
                o << "<divisions>" << divisions << "</divisions>";
            }
        } else if (part_start) {
            o << "<divisions>" << divisions << "</divisions>";
        }
        if (a.key) {
            o << "<key><fifths>" << a.key->fifths << "</fifths>";
            if (!a.key->mode.empty()) o << "<mode>" << esc(a.key->mode) << "</mode>";
            o << "</key>";
        }
        if (a.time) {
            o << "<time";
            if (!a.time->symbol.empty()) o << " symbol=\"" << esc(a.time->symbol) << "\"";
            o << "><beats>" << a.time->beats << "</beats><beat-type>" << a.time->beat_type << "</beat-type></time>";
        }
        if (a.staves) o << "<staves>" << *a.staves << "</staves>";
        // MusicXML's order: part-symbol and instruments before the clefs, the rest after.
        for (const auto& x : a.extras)
            if (x.name == "part-symbol" || x.name == "instruments") xml_to(o, x);
        for (const auto& c : a.clefs) {
            o << "<clef";
            if (a.staves || c.staff != 1 || c.numbered) o << " number=\"" << c.staff << "\"";
            o << attributes_xml(c.attributes);
            o << "><sign>";
            switch (c.sign) {
                case 'P': o << "percussion"; break;
                case 'T': o << "TAB"; break;
                case 'N': o << "none"; break;
                default: o << c.sign;
            }
            o << "</sign><line>" << c.line << "</line>";
            if (c.octave_change) o << "<clef-octave-change>" << c.octave_change << "</clef-octave-change>";
            o << "</clef>";
        }
        for (const auto& x : a.extras)
            if (x.name != "part-symbol" && x.name != "instruments") xml_to(o, x);
        o << "</attributes>\n";
    }

    void write_pitch(const char* tag, const char* step, const char* octave, const Pitch& p, bool alter) {
        o << "<" << tag << "><" << step << ">" << p.step << "</" << step << ">";
        if (alter && p.alter) o << "<alter>" << p.alter << "</alter>";
        o << "<" << octave << ">" << p.octave << "</" << octave << "></" << tag << ">";
    }

    void write_note(const Note& n) {
        o << "      <note";
        if (!n.print_object) o << " print-object=\"no\"";
        if (n.velocity >= 0) o << " dynamics=\"" << fmt_double(n.velocity / 0.9) << "\"";
        o << ">";
        if (n.grace) o << (n.grace_slash ? "<grace slash=\"yes\"/>" : "<grace/>");
        if (n.cue) o << "<cue/>";
        if (n.chord) o << "<chord/>";
        if (n.is_rest) {
            o << "<rest";
            if (n.measure_rest) o << " measure=\"yes\"";
            if (n.display) {
                o << ">";
                o << "<display-step>" << n.display->step << "</display-step><display-octave>" << n.display->octave
                  << "</display-octave></rest>";
            } else {
                o << "/>";
            }
        } else {
            write_pitch("pitch", "step", "octave", n.pitch, true);
        }
        if (!n.grace) o << "<duration>" << units(n.duration) << "</duration>";
        if (!n.cue) {
            if (n.tie_stop) o << "<tie type=\"stop\"/>";
            if (n.tie_start) o << "<tie type=\"start\"/>";
        }
        write_extras(n, {"instrument", "footnote", "level"});
        if (n.has_voice) o << "<voice>" << n.voice << "</voice>";
        if (!n.type.empty()) o << "<type" << attrs_of(n, "type") << ">" << esc(n.type) << "</type>";
        for (int i = 0; i < n.dots; ++i) o << "<dot/>";
        if (!n.accidental.empty())
            o << "<accidental" << attributes_xml(n.accidental_attributes) << ">" << esc(n.accidental) << "</accidental>";
        if (n.time_modification) {
            o << "<time-modification><actual-notes>" << n.time_modification->actual << "</actual-notes><normal-notes>"
              << n.time_modification->normal << "</normal-notes>";
            if (!n.time_modification->normal_type.empty())
                o << "<normal-type>" << esc(n.time_modification->normal_type) << "</normal-type>";
            o << "</time-modification>";
        }
        if (!n.stem.empty()) o << "<stem>" << esc(n.stem) << "</stem>";
        write_extras(n, {"notehead", "notehead-text"});
        if (n.has_staff) o << "<staff>" << n.staff << "</staff>";
        for (size_t i = 0; i < n.beams.size(); ++i)
            o << "<beam number=\"" << n.beams[i].number << "\""
              << (i < n.beam_attributes.size() ? attributes_xml(n.beam_attributes[i]) : std::string()) << ">"
              << esc(n.beams[i].value) << "</beam>";
        write_notations(n);
        write_extras(n, {"notations"});  // later <notations>, apart from the first (see the reader)
        for (const auto& l : n.lyrics) write_lyric(l);
        write_extras(n, {"play", "listen"});
        o << "</note>\n";
    }

    static std::string attrs_of(const Note& n, const std::string& element) {
        auto it = n.element_attributes.find(element);
        return it == n.element_attributes.end() ? std::string() : attributes_xml(it->second);
    }

    void write_extras(const Note& n, std::initializer_list<const char*> names) {
        for (const auto& x : n.extras)
            for (const char* name : names)
                if (x.name == name) xml_to(o, x);
    }

    void write_lyric(const Lyric& l) {
        o << "<lyric";
        if (!l.number.empty()) o << " number=\"" << esc(l.number) << "\"";
        if (!l.name.empty()) o << " name=\"" << esc(l.name) << "\"";
        o << attributes_xml(l.attributes) << ">";
        for (size_t i = 0; i < l.syllables.size(); ++i) {
            const Syllable& s = l.syllables[i];
            if (i > 0 || s.has_elision) o << "<elision>" << esc(s.elision) << "</elision>";
            if (!s.syllabic.empty()) o << "<syllabic>" << esc(s.syllabic) << "</syllabic>";
            o << "<text>" << esc(s.text) << "</text>";
        }
        if (l.extend == "yes") o << "<extend/>";
        else if (!l.extend.empty()) o << "<extend type=\"" << esc(l.extend) << "\"/>";
        if (l.laughing) o << "<laughing/>";
        if (l.humming) o << "<humming/>";
        if (l.end_line) o << "<end-line/>";
        if (l.end_paragraph) o << "<end-paragraph/>";
        o << "</lyric>";
    }

    void write_notations(const Note& n) {
        std::ostringstream s;
        std::vector<std::string> tied = n.tied_types;
        if (tied.empty()) {
            if (n.tied_stop) tied.push_back("stop");
            if (n.tied_start) tied.push_back("start");
        }
        for (const auto& t : tied) s << "<tied type=\"" << esc(t) << "\"/>";
        for (size_t i = 0; i < n.slurs.size(); ++i)
            s << "<slur type=\"" << esc(n.slurs[i].first) << "\" number=\"" << n.slurs[i].second << "\""
              << (i < n.slur_attributes.size() ? attributes_xml(n.slur_attributes[i]) : std::string()) << "/>";
        for (size_t i = 0; i < n.tuplets.size(); ++i)
            s << "<tuplet type=\"" << esc(n.tuplets[i]) << "\""
              << (i < n.tuplet_attributes.size() ? attributes_xml(n.tuplet_attributes[i]) : std::string()) << "/>";
        if (n.trill_mark || n.tremolo || !n.extra_ornaments.empty()) {
            s << "<ornaments>";  // line breaks inside: see xml_to
            if (n.trill_mark) s << "<trill-mark/>";
            for (const auto& x : n.extra_ornaments) {
                s << "\n";
                xml_to(s, x);
                s << "\n";
            }
            if (n.tremolo) s << "<tremolo type=\"" << esc(tremolo_or(n.tremolo->type)) << "\">" << n.tremolo->marks << "</tremolo>";
            s << "</ornaments>";
        }
        if (n.accent || n.strong_accent || n.staccato || n.tenuto || n.staccatissimo || !n.extra_articulations.empty()) {
            s << "<articulations>";
            if (n.accent) s << "<accent" << attrs_of(n, "accent") << "/>";
            if (n.strong_accent) s << "<strong-accent" << attrs_of(n, "strong-accent") << "/>";
            if (n.staccato) s << "<staccato" << attrs_of(n, "staccato") << "/>";
            if (n.tenuto) s << "<tenuto" << attrs_of(n, "tenuto") << "/>";
            if (n.staccatissimo) s << "<staccatissimo" << attrs_of(n, "staccatissimo") << "/>";
            for (const auto& x : n.extra_articulations) xml_to(s, x);
            s << "</articulations>";
        }
        if (n.fermata) s << "<fermata" << attrs_of(n, "fermata") << "/>";
        if (n.arpeggiate) s << "<arpeggiate" << attrs_of(n, "arpeggiate") << "/>";
        for (const auto& x : n.extra_notations) xml_to(s, x);
        std::string inner = s.str();
        if (!inner.empty()) o << "<notations" << attrs_of(n, "notations") << ">" << inner << "</notations>";
    }

    void write_sound(const Direction& d) {
        if (!d.tempo_qpm && !d.dynamics && d.sound_attributes.empty() && d.sound_children.empty()) return;
        o << "<sound";
        if (d.tempo_qpm) o << " tempo=\"" << fmt_double(*d.tempo_qpm) << "\"";
        if (d.dynamics) o << " dynamics=\"" << fmt_double(*d.dynamics) << "\"";
        o << attributes_xml(d.sound_attributes);
        if (d.sound_children.empty()) {
            o << "/>";
            return;
        }
        o << ">";
        for (const auto& x : d.sound_children) xml_to(o, x);
        o << "</sound>";
    }

    void write_direction(const Direction& d) {
        if (d.bare_sound) {
            o << "      ";
            write_sound(d);
            o << "\n";
            return;
        }
        o << "      <direction" << attributes_xml(d.attributes) << ">";
        if (!d.types.empty()) {
            for (const auto& type : d.types) {
                o << "<direction-type>";
                for (const auto& x : type) xml_to(o, x);
                o << "</direction-type>";
            }
        } else if (!d.dynamic_mark.empty()) {
            o << "<direction-type><dynamics><" << esc(d.dynamic_mark) << "/></dynamics></direction-type>";
        } else {
            o << "<direction-type><words/></direction-type>";
        }
        if (!d.offset.is_zero()) o << "<offset>" << (d.offset < Rational(0) ? "-" + units(-d.offset) : units(d.offset)) << "</offset>";
        if (!d.voice.empty()) o << "<voice>" << esc(d.voice) << "</voice>";
        if (d.has_staff) o << "<staff>" << d.staff << "</staff>";
        write_sound(d);
        o << "</direction>\n";
    }

    void write_barline(const Barline& b) {
        o << "      <barline location=\"" << esc(b.location) << "\">";
        if (!b.bar_style.empty()) o << "<bar-style>" << esc(b.bar_style) << "</bar-style>";
        else if (b.repeat == "forward") o << "<bar-style>heavy-light</bar-style>";
        else if (b.repeat == "backward") o << "<bar-style>light-heavy</bar-style>";
        // MusicXML's order: bar-style, footnote, level, wavy-line, segno, coda, fermata, ending, repeat.
        for (const auto& x : b.extras) xml_to(o, x);
        if (!b.ending_type.empty()) {
            std::string nums;
            for (size_t i = 0; i < b.ending_numbers.size(); ++i) nums += (i ? "," : "") + std::to_string(b.ending_numbers[i]);
            if (!b.ending_number_text.empty()) nums = b.ending_number_text;
            if (nums.empty()) nums = "1";
            o << "<ending number=\"" << esc(nums) << "\" type=\"" << esc(b.ending_type) << "\"" << attributes_xml(b.ending_attributes);
            if (b.ending_text.empty()) o << "/>";
            else o << ">" << esc(b.ending_text) << "</ending>";
        }
        if (!b.repeat.empty()) {
            o << "<repeat direction=\"" << esc(b.repeat) << "\"";
            if (b.repeat == "backward" && b.times != 2) o << " times=\"" << b.times << "\"";
            o << attributes_xml(b.repeat_attributes) << "/>";
        }
        o << "</barline>\n";
    }
};

}  // namespace

std::string write_musicxml(const Score& score) { return Writer().run(score); }

std::string write_mxl(const Score& score) {
    const std::string xml = write_musicxml(score);
    static const std::string mimetype = "application/vnd.recordare.musicxml";
    static const std::string container =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<container>\n  <rootfiles>\n"
        "    <rootfile full-path=\"score.musicxml\" media-type=\"application/vnd.recordare.musicxml+xml\"/>\n"
        "  </rootfiles>\n</container>\n";
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* buf = zip_source_buffer_create(nullptr, 0, 0, &err);
    if (!buf) throw Error("cannot create an in-memory zip");
    zip_t* z = zip_open_from_source(buf, ZIP_TRUNCATE, &err);
    if (!z) {
        zip_source_free(buf);
        throw Error("cannot create an in-memory zip");
    }
    zip_source_keep(buf);  // read it back after zip_close
    auto add = [&](const char* name, const std::string& data, bool store) {
        zip_source_t* s = zip_source_buffer(z, data.data(), data.size(), 0);
        zip_int64_t idx = s ? zip_file_add(z, name, s, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) : -1;
        if (idx < 0) {
            if (s) zip_source_free(s);
            return false;
        }
        zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
        return true;
    };
    bool ok = add("mimetype", mimetype, true) && add("META-INF/container.xml", container, false) &&
              add("score.musicxml", xml, false);
    if (!ok || zip_close(z) != 0) {
        if (ok == false) zip_discard(z);
        zip_source_free(buf);
        throw Error("cannot write the .mxl archive");
    }
    std::string out;
    if (zip_source_open(buf) == 0) {
        char chunk[65536];
        zip_int64_t n;
        while ((n = zip_source_read(buf, chunk, sizeof chunk)) > 0) out.append(chunk, static_cast<size_t>(n));
        zip_source_close(buf);
    }
    zip_source_free(buf);
    if (out.empty()) throw Error("cannot write the .mxl archive");
    return out;
}

void save_score(const Score& score, const std::string& path) {
    if (path != "-" && extension_of(path) == "mxl") write_file_atomic(path, write_mxl(score));
    else write_file_atomic(path, write_musicxml(score));
}

}  // namespace umt
