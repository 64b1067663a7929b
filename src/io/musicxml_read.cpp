// MusicXML reader: text or .mxl bytes -> Score (partwise; timewise converted on read).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

#include <tinyxml2.h>
#include <zip.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/musicxml.hpp"

namespace umt {

namespace {

using tinyxml2::XMLElement;

std::string trim(const char* s) {
    if (!s) return {};
    const char* b = s;
    while (*b && std::strchr(" \t\r\n", *b)) ++b;
    const char* e = b + std::strlen(b);
    while (e > b && std::strchr(" \t\r\n", e[-1])) --e;
    return std::string(b, e);
}

std::string text_of(const XMLElement* e) { return e ? trim(e->GetText()) : std::string(); }

std::string child_text(const XMLElement* e, const char* name) {
    return e ? text_of(e->FirstChildElement(name)) : std::string();
}

std::string attr(const XMLElement* e, const char* name) {
    const char* v = e ? e->Attribute(name) : nullptr;
    return v ? std::string(v) : std::string();
}

// Integers that a sloppy file may write as "2.0": anything strtod reads, rounded.
bool parse_int(const std::string& s, int& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0' || !std::isfinite(v) || std::fabs(v) > 1e9) return false;
    out = static_cast<int>(std::lround(v));
    return true;
}

int int_or(const std::string& s, int fallback) {
    int v;
    return parse_int(s, v) ? v : fallback;
}

// A duration in divisions -> quarters; decimals (seen in the wild) are kept to 1/1024.
Rational to_quarters(const std::string& s, int divisions) {
    if (s.empty() || divisions <= 0) return Rational(0);
    char* end = nullptr;
    long long whole = std::strtoll(s.c_str(), &end, 10);
    if (end != s.c_str() && *end == '\0' && whole >= 0 && whole < (1LL << 40)) return Rational(whole, divisions);
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || !std::isfinite(v) || v < 0 || v > 1e9) return Rational(0);
    return Rational(std::llround(v * 1024), 1024LL * divisions);
}

// UTF-16 files exist in the wild (MusicXML 1.x exporters); tinyxml2 reads UTF-8 only.
std::string to_utf8(const std::string& bytes) {
    if (bytes.size() < 2) return bytes;
    bool le = (unsigned char)bytes[0] == 0xFF && (unsigned char)bytes[1] == 0xFE;
    bool be = (unsigned char)bytes[0] == 0xFE && (unsigned char)bytes[1] == 0xFF;
    if (!le && !be) return bytes;
    std::string out;
    out.reserve(bytes.size() / 2);
    auto unit = [&](size_t i) -> uint32_t {
        unsigned a = (unsigned char)bytes[i], b = (unsigned char)bytes[i + 1];
        return le ? (a | (b << 8)) : ((a << 8) | b);
    };
    for (size_t i = 2; i + 1 < bytes.size(); i += 2) {
        uint32_t cp = unit(i);
        if (cp >= 0xD800 && cp < 0xDC00 && i + 3 < bytes.size()) {
            uint32_t lo = unit(i + 2);
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        if (cp < 0x80) out += char(cp);
        else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) { out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
        else { out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
    }
    // The declaration still says UTF-16; tinyxml2 ignores it, so leave it.
    return out;
}

using AttributeList = std::vector<std::pair<std::string, std::string>>;

AttributeList attributes_of(const XMLElement* e, std::initializer_list<const char*> skip = {}) {
    AttributeList out;
    for (const auto* a = e->FirstAttribute(); a; a = a->Next()) {
        bool skipped = false;
        for (const char* k : skip) skipped |= std::strcmp(a->Name(), k) == 0;
        if (!skipped) out.emplace_back(a->Name(), a->Value());
    }
    return out;
}

// The element and everything below it, for what the model keeps verbatim.
XmlElement to_xml(const XMLElement* e) {
    XmlElement x;
    x.name = e->Name();
    x.attributes = attributes_of(e);
    // Own text only (the first text node); mixed content does not occur in MusicXML.
    if (const char* t = e->GetText()) x.text = t;
    for (const auto* c = e->FirstChildElement(); c; c = c->NextSiblingElement()) x.children.push_back(to_xml(c));
    return x;
}

bool is_one_of(const char* name, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (std::strcmp(name, n) == 0) return true;
    return false;
}

struct PartState {
    int divisions = 1;
};

Pitch read_pitch(const XMLElement* p, const char* step_name, const char* octave_name) {
    Pitch pitch;
    std::string step = child_text(p, step_name);
    if (step.size() == 1 && step[0] >= 'A' && step[0] <= 'G') pitch.step = step[0];
    if (step.size() == 1 && step[0] >= 'a' && step[0] <= 'g') pitch.step = char(step[0] - 'a' + 'A');
    std::string alter = child_text(p, "alter");
    if (!alter.empty()) {
        double a = std::strtod(alter.c_str(), nullptr);
        if (std::isfinite(a) && std::fabs(a) < 10) pitch.alter = static_cast<int>(std::lround(a));
    }
    pitch.octave = int_or(child_text(p, octave_name), 4);
    if (pitch.octave < -1 || pitch.octave > 10) pitch.octave = 4;
    return pitch;
}

Attributes read_attributes(const XMLElement* a, PartState& st) {
    Attributes out;
    if (const auto* d = a->FirstChildElement("divisions")) {
        int v;
        if (parse_int(text_of(d), v) && v > 0) {
            out.divisions = v;
            st.divisions = v;
        }
    }
    if (const auto* k = a->FirstChildElement("key")) {
        int fifths;
        if (parse_int(child_text(k, "fifths"), fifths)) out.key = Key{fifths, child_text(k, "mode")};
    }
    if (const auto* t = a->FirstChildElement("time")) {
        int beats, beat_type;
        if (parse_int(child_text(t, "beats"), beats) && parse_int(child_text(t, "beat-type"), beat_type) &&
            beats > 0 && beat_type > 0)
            out.time = TimeSignature{beats, beat_type, attr(t, "symbol")};
    }
    if (const auto* s = a->FirstChildElement("staves")) {
        int v;
        if (parse_int(text_of(s), v) && v > 0) out.staves = v;
    }
    for (const auto* c = a->FirstChildElement("clef"); c; c = c->NextSiblingElement("clef")) {
        Clef clef;
        std::string sign = child_text(c, "sign");
        if (sign == "percussion") clef.sign = 'P';
        else if (sign == "TAB") clef.sign = 'T';
        else if (sign == "none") clef.sign = 'N';
        else if (sign.size() == 1) clef.sign = char(std::toupper((unsigned char)sign[0]));
        std::string line = child_text(c, "line");
        int default_line = clef.sign == 'F' ? 4 : clef.sign == 'C' ? 3 : 2;
        clef.line = int_or(line, default_line);
        clef.octave_change = int_or(child_text(c, "clef-octave-change"), 0);
        clef.staff = int_or(attr(c, "number"), 1);
        clef.numbered = c->Attribute("number") != nullptr;
        clef.attributes = attributes_of(c, {"number"});
        out.clefs.push_back(clef);
    }
    for (const auto* c = a->FirstChildElement(); c; c = c->NextSiblingElement())
        if (!is_one_of(c->Name(), {"divisions", "key", "time", "staves", "clef"})) out.extras.push_back(to_xml(c));
    return out;
}

Note read_note(const XMLElement* n, const PartState& st) {
    Note note;
    note.print_object = attr(n, "print-object") != "no";
    if (const auto* g = n->FirstChildElement("grace")) {
        note.grace = true;
        note.grace_slash = attr(g, "slash") == "yes";
    }
    note.cue = n->FirstChildElement("cue") != nullptr;
    note.chord = n->FirstChildElement("chord") != nullptr;
    if (const auto* r = n->FirstChildElement("rest")) {
        note.is_rest = true;
        note.measure_rest = attr(r, "measure") == "yes";
        if (r->FirstChildElement("display-step")) note.display = read_pitch(r, "display-step", "display-octave");
    } else if (const auto* p = n->FirstChildElement("pitch")) {
        note.pitch = read_pitch(p, "step", "octave");
    } else if (const auto* u = n->FirstChildElement("unpitched")) {
        note.display = read_pitch(u, "display-step", "display-octave");
        note.pitch = *note.display;
    }
    if (!note.grace) note.duration = to_quarters(child_text(n, "duration"), st.divisions);
    for (const auto* t = n->FirstChildElement("tie"); t; t = t->NextSiblingElement("tie")) {
        std::string type = attr(t, "type");
        if (type == "start") note.tie_start = true;
        if (type == "stop") note.tie_stop = true;
    }
    if (const auto* v = n->FirstChildElement("voice")) note.voice = int_or(text_of(v), 1);
    else note.has_voice = false;
    note.type = child_text(n, "type");
    // Attributes of elements the model holds as plain fields (see Note::element_attributes).
    auto keep_attributes = [&note](const XMLElement* e) {
        if (e && e->FirstAttribute()) note.element_attributes[e->Name()] = attributes_of(e);
    };
    keep_attributes(n->FirstChildElement("type"));
    keep_attributes(n->FirstChildElement("notations"));
    for (const auto* d = n->FirstChildElement("dot"); d; d = d->NextSiblingElement("dot")) ++note.dots;
    note.accidental = child_text(n, "accidental");
    if (const auto* acc = n->FirstChildElement("accidental")) note.accidental_attributes = attributes_of(acc);
    if (const auto* tm = n->FirstChildElement("time-modification")) {
        TimeModification m;
        m.actual = int_or(child_text(tm, "actual-notes"), 1);
        m.normal = int_or(child_text(tm, "normal-notes"), 1);
        m.normal_type = child_text(tm, "normal-type");
        note.time_modification = m;
    }
    note.stem = child_text(n, "stem");
    if (const auto* s = n->FirstChildElement("staff")) note.staff = int_or(text_of(s), 1);
    else note.has_staff = false;
    for (const auto* b = n->FirstChildElement("beam"); b; b = b->NextSiblingElement("beam"))
    {
        note.beams.push_back(Beam{int_or(attr(b, "number"), 1), text_of(b)});
        note.beam_attributes.push_back(attributes_of(b, {"number"}));
    }
    bool first_notations = true;
    for (const auto* ns = n->FirstChildElement("notations"); ns; ns = ns->NextSiblingElement("notations")) {
        XmlElement later;  // a later <notations>, kept apart (see below)
        later.name = "notations";
        for (const auto* e = ns->FirstChildElement(); e; e = e->NextSiblingElement()) {
            std::string name = e->Name();
            if (name == "tied") {
                std::string type = attr(e, "type");
                note.tied_types.push_back(type);
                if (type == "start") note.tied_start = true;
                if (type == "stop") note.tied_stop = true;
            } else if (name == "tuplet") {
                note.tuplets.push_back(attr(e, "type"));
                note.tuplet_attributes.push_back(attributes_of(e, {"type"}));
            } else if (!first_notations) {
                // The reference linearizer reads slurs, ornaments and articulations from
                // the first <notations> only; we keep ties and tuplets from all of them, and
                // the rest in a <notations> of its own, so that LMX of the output is the same.
                later.children.push_back(to_xml(e));
            } else if (name == "slur") {
                note.slurs.emplace_back(attr(e, "type"), int_or(attr(e, "number"), 1));
                note.slur_attributes.push_back(attributes_of(e, {"type", "number"}));
            } else if (name == "fermata" && !note.fermata) {
                note.fermata = true;
                keep_attributes(e);
            } else if (name == "arpeggiate" && !note.arpeggiate) {
                note.arpeggiate = true;
                keep_attributes(e);
            } else if (name == "articulations") {
                for (const auto* a = e->FirstChildElement(); a; a = a->NextSiblingElement()) {
                    std::string an = a->Name();
                    bool* flag = an == "staccato" ? &note.staccato : an == "accent" ? &note.accent
                               : an == "strong-accent" ? &note.strong_accent : an == "tenuto" ? &note.tenuto
                               : an == "staccatissimo" ? &note.staccatissimo : nullptr;
                    if (flag && !*flag) {
                        *flag = true;
                        keep_attributes(a);
                    } else {
                        note.extra_articulations.push_back(to_xml(a));
                    }
                }
            } else if (name == "ornaments") {
                for (const auto* o = e->FirstChildElement(); o; o = o->NextSiblingElement()) {
                    std::string on = o->Name();
                    if (on == "trill-mark" && !note.trill_mark) {
                        note.trill_mark = true;
                    } else if (on == "tremolo" && !note.tremolo) {
                        std::string type = attr(o, "type");
                        note.tremolo = Tremolo{type.empty() ? "single" : type, int_or(text_of(o), 0)};
                    } else {
                        note.extra_ornaments.push_back(to_xml(o));
                    }
                }
            } else {
                note.extra_notations.push_back(to_xml(e));
            }
        }
        if (!first_notations && !later.children.empty()) note.extras.push_back(std::move(later));
        first_notations = false;
    }
    for (const auto* l = n->FirstChildElement("lyric"); l; l = l->NextSiblingElement("lyric")) {
        Lyric lyric;
        lyric.number = attr(l, "number");
        lyric.name = attr(l, "name");
        lyric.attributes = attributes_of(l, {"number", "name"});
        Syllable pending;
        for (const auto* c = l->FirstChildElement(); c; c = c->NextSiblingElement()) {
            std::string cn = c->Name();
            if (cn == "syllabic") {
                pending.syllabic = text_of(c);
            } else if (cn == "text") {
                // Lyric text keeps its spaces: "a " and "a" are different syllables.
                pending.text = c->GetText() ? c->GetText() : "";
                lyric.syllables.push_back(pending);
                pending = Syllable();
            } else if (cn == "elision") {
                pending.has_elision = true;
                pending.elision = c->GetText() ? c->GetText() : "";
            } else if (cn == "extend") {
                std::string type = attr(c, "type");
                lyric.extend = type.empty() ? "yes" : type;
            } else if (cn == "laughing") {
                lyric.laughing = true;
            } else if (cn == "humming") {
                lyric.humming = true;
            } else if (cn == "end-line") {
                lyric.end_line = true;
            } else if (cn == "end-paragraph") {
                lyric.end_paragraph = true;
            }
        }
        note.lyrics.push_back(std::move(lyric));
    }
    for (const auto* c = n->FirstChildElement(); c; c = c->NextSiblingElement())
        if (is_one_of(c->Name(), {"instrument", "footnote", "level", "notehead", "notehead-text", "play", "listen"}))
            note.extras.push_back(to_xml(c));
    std::string dyn = attr(n, "dynamics");
    if (!dyn.empty()) {
        double d = std::strtod(dyn.c_str(), nullptr);
        // <note dynamics> is a percentage of the default forte velocity 90.
        if (std::isfinite(d) && d >= 0) note.velocity = std::max(1, std::min(127, static_cast<int>(std::lround(d * 0.9))));
    }
    return note;
}

void read_sound(const XMLElement* s, Direction& dir) {
    if (const char* t = s->Attribute("tempo")) {
        double v = std::strtod(t, nullptr);
        if (std::isfinite(v) && v > 0) dir.tempo_qpm = v;
    }
    if (const char* t = s->Attribute("dynamics")) {
        double v = std::strtod(t, nullptr);
        if (std::isfinite(v) && v >= 0) dir.dynamics = v;
    }
    dir.sound_attributes = attributes_of(s, {"tempo", "dynamics"});
    for (const auto* c = s->FirstChildElement(); c; c = c->NextSiblingElement()) dir.sound_children.push_back(to_xml(c));
}

Direction read_direction(const XMLElement* d, const PartState& st) {
    Direction dir;
    dir.staff = int_or(child_text(d, "staff"), 1);
    dir.has_staff = d->FirstChildElement("staff") != nullptr;
    dir.voice = child_text(d, "voice");
    dir.attributes = attributes_of(d);
    if (const auto* off = d->FirstChildElement("offset")) {
        std::string s = text_of(off);
        bool neg = !s.empty() && s[0] == '-';
        Rational q = to_quarters(neg ? s.substr(1) : s, st.divisions);
        dir.offset = neg ? -q : q;
    }
    for (const auto* dt = d->FirstChildElement("direction-type"); dt; dt = dt->NextSiblingElement("direction-type")) {
        if (const auto* dyn = dt->FirstChildElement("dynamics"))
            if (const auto* mark = dyn->FirstChildElement(); mark && dir.dynamic_mark.empty()) dir.dynamic_mark = mark->Name();
        std::vector<XmlElement> type;
        for (const auto* c = dt->FirstChildElement(); c; c = c->NextSiblingElement()) type.push_back(to_xml(c));
        dir.types.push_back(std::move(type));
    }
    if (const auto* s = d->FirstChildElement("sound")) read_sound(s, dir);
    return dir;
}

Barline read_barline(const XMLElement* b) {
    Barline bl;
    std::string loc = attr(b, "location");
    if (!loc.empty()) bl.location = loc;
    bl.bar_style = child_text(b, "bar-style");
    if (const auto* r = b->FirstChildElement("repeat")) {
        bl.repeat = attr(r, "direction");
        bl.times = int_or(attr(r, "times"), 2);
        bl.repeat_attributes = attributes_of(r, {"direction", "times"});
    }
    if (const auto* e = b->FirstChildElement("ending")) {
        bl.ending_type = attr(e, "type");
        bl.ending_text = text_of(e);
        bl.ending_attributes = attributes_of(e, {"number", "type"});
        std::string nums = attr(e, "number");
        bl.ending_number_text = nums;
        std::string cur;
        for (char c : nums + ",") {
            if (std::isdigit((unsigned char)c)) cur += c;
            else if (!cur.empty()) {
                bl.ending_numbers.push_back(int_or(cur, 1));
                cur.clear();
            }
        }
    }
    for (const auto* c = b->FirstChildElement(); c; c = c->NextSiblingElement())
        if (!is_one_of(c->Name(), {"bar-style", "repeat", "ending"})) bl.extras.push_back(to_xml(c));
    return bl;
}

// Reads the children of a partwise <measure> (or of a timewise <part> inside a <measure>).
void read_measure_content(const XMLElement* container, Measure& m, PartState& st) {
    for (const auto* e = container->FirstChildElement(); e; e = e->NextSiblingElement()) {
        std::string name = e->Name();
        if (name == "note") {
            m.elements.emplace_back(read_note(e, st));
        } else if (name == "attributes") {
            m.elements.emplace_back(read_attributes(e, st));
        } else if (name == "backup") {
            m.elements.emplace_back(Backup{to_quarters(child_text(e, "duration"), st.divisions)});
        } else if (name == "forward") {
            Forward f;
            f.duration = to_quarters(child_text(e, "duration"), st.divisions);
            f.voice = int_or(child_text(e, "voice"), 0);
            f.staff = int_or(child_text(e, "staff"), 0);
            m.elements.emplace_back(f);
        } else if (name == "direction") {
            m.elements.emplace_back(read_direction(e, st));
        } else if (name == "sound") {
            Direction d;
            d.bare_sound = true;
            d.has_staff = false;
            read_sound(e, d);
            m.elements.emplace_back(d);
        } else if (name == "barline") {
            m.barlines.push_back(read_barline(e));
        } else if (name == "print") {
            if (attr(e, "new-system") == "yes") m.new_system = true;
            if (attr(e, "new-page") == "yes") m.new_page = true;
            m.print = to_xml(e);
        } else {
            // harmony, figured-bass, grouping, link, bookmark, listening: kept as read.
            m.elements.emplace_back(OtherElement{to_xml(e)});
        }
    }
}

struct PartInfo {
    std::string name;
    std::string abbreviation;
    AttributeList name_attributes;
    int program = 0;
    int channel = -1;
    std::vector<XmlElement> extras;
};

std::map<std::string, PartInfo> read_part_list(const XMLElement* root, Score& score) {
    std::map<std::string, PartInfo> out;
    const auto* pl = root->FirstChildElement("part-list");
    if (!pl) return out;
    size_t parts_before = 0;
    for (const auto* g = pl->FirstChildElement(); g; g = g->NextSiblingElement()) {
        if (std::strcmp(g->Name(), "score-part") == 0) ++parts_before;
        else if (std::strcmp(g->Name(), "part-group") == 0) score.part_groups.emplace_back(parts_before, to_xml(g));
    }
    for (const auto* sp = pl->FirstChildElement("score-part"); sp; sp = sp->NextSiblingElement("score-part")) {
        PartInfo info;
        info.name = child_text(sp, "part-name");
        info.abbreviation = child_text(sp, "part-abbreviation");
        if (const auto* pn = sp->FirstChildElement("part-name")) info.name_attributes = attributes_of(pn);
        for (const auto* c = sp->FirstChildElement(); c; c = c->NextSiblingElement())
            if (!is_one_of(c->Name(), {"part-name", "part-abbreviation"})) info.extras.push_back(to_xml(c));
        if (const auto* mi = sp->FirstChildElement("midi-instrument")) {
            int prog = int_or(child_text(mi, "midi-program"), 1);
            info.program = std::max(0, std::min(127, prog - 1));
            int ch = int_or(child_text(mi, "midi-channel"), 0);
            info.channel = ch >= 1 && ch <= 16 ? ch - 1 : -1;
        }
        out[attr(sp, "id")] = info;
    }
    return out;
}

void read_header(const XMLElement* root, Score& score) {
    score.work_title = child_text(root->FirstChildElement("work"), "work-title");
    score.work_number = child_text(root->FirstChildElement("work"), "work-number");
    score.movement_title = child_text(root, "movement-title");
    score.movement_number = child_text(root, "movement-number");
    score.title = score.work_title.empty() ? score.movement_title : score.work_title;
    if (const auto* id = root->FirstChildElement("identification")) {
        for (const auto* c = id->FirstChildElement(); c; c = c->NextSiblingElement()) {
            std::string name = c->Name();
            if (name == "creator") {
                score.creators.push_back(Creator{attr(c, "type"), text_of(c)});
                if (attr(c, "type") == "composer" && score.composer.empty()) score.composer = text_of(c);
            } else if (name == "rights") {
                score.rights.push_back(text_of(c));
            } else if (name == "source") {
                score.source = text_of(c);
            } else if (name == "encoding") {
                score.encoding = to_xml(c);
            } else {
                score.identification_extras.push_back(to_xml(c));
            }
        }
    }
    if (const auto* d = root->FirstChildElement("defaults")) score.defaults = to_xml(d);
    for (const auto* c = root->FirstChildElement("credit"); c; c = c->NextSiblingElement("credit"))
        score.credits.push_back(to_xml(c));
}

Part make_part(const XMLElement* part_el, const std::map<std::string, PartInfo>& infos) {
    Part part;
    part.id = attr(part_el, "id");
    auto it = infos.find(part.id);
    if (it != infos.end()) {
        part.name = it->second.name;
        part.abbreviation = it->second.abbreviation;
        part.name_attributes = it->second.name_attributes;
        part.score_part_extras = it->second.extras;
        part.midi_program = it->second.program;
        part.midi_channel = it->second.channel;
    }
    return part;
}

void start_measure(const XMLElement* m_el, Measure& m) {
    m.number = attr(m_el, "number");
    m.implicit = attr(m_el, "implicit") == "yes";
    m.attributes = attributes_of(m_el, {"number", "implicit"});
}

}  // namespace

Score parse_musicxml(const std::string& xml_bytes, const std::string& source) {
    if (xml_bytes.find_first_not_of(" \t\r\n") == std::string::npos) throw Error(source, "empty file");
    std::string xml = to_utf8(xml_bytes);
    tinyxml2::XMLDocument doc;
    if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
        std::string why = doc.ErrorStr() ? doc.ErrorStr() : "parse error";
        throw Error(source, "not valid XML (" + why + ")");
    }
    const XMLElement* root = doc.RootElement();
    if (!root) throw Error(source, "not valid XML (no root element)");
    std::string kind = root->Name();
    Score score;
    read_header(root, score);
    auto infos = read_part_list(root, score);
    if (kind == "score-partwise") {
        for (const auto* p = root->FirstChildElement("part"); p; p = p->NextSiblingElement("part")) {
            Part part = make_part(p, infos);
            PartState st;
            for (const auto* m_el = p->FirstChildElement("measure"); m_el; m_el = m_el->NextSiblingElement("measure")) {
                Measure m;
                start_measure(m_el, m);
                read_measure_content(m_el, m, st);
                part.measures.push_back(std::move(m));
            }
            score.parts.push_back(std::move(part));
        }
    } else if (kind == "score-timewise") {
        // Timewise: measures hold parts; regroup into partwise order on the fly.
        std::map<std::string, size_t> index;
        std::vector<PartState> states;
        for (const auto* m_el = root->FirstChildElement("measure"); m_el; m_el = m_el->NextSiblingElement("measure")) {
            for (const auto* p = m_el->FirstChildElement("part"); p; p = p->NextSiblingElement("part")) {
                std::string id = attr(p, "id");
                auto it = index.find(id);
                if (it == index.end()) {
                    it = index.emplace(id, score.parts.size()).first;
                    score.parts.push_back(make_part(p, infos));
                    states.emplace_back();
                }
                Measure m;
                start_measure(m_el, m);
                read_measure_content(p, m, states[it->second]);
                score.parts[it->second].measures.push_back(std::move(m));
            }
        }
    } else {
        throw Error(source, "not a MusicXML score (root element <" + kind + ">, expected <score-partwise>)");
    }
    if (score.parts.empty()) throw Error(source, "MusicXML score has no <part>");
    return score;
}

namespace {

struct ZipCloser {
    zip_t* z;
    ~ZipCloser() { if (z) zip_discard(z); }
};

bool zip_entry(zip_t* z, const std::string& name, std::string& out, const std::string& source) {
    zip_stat_t st;
    if (zip_stat(z, name.c_str(), 0, &st) != 0) return false;
    auto too_big = [&] {
        return Error(source, ".mxl entry '" + name + "' expands to more than " + std::to_string(kMaxMxlEntryBytes >> 20) +
                                 " MB (a zip bomb?); not read");
    };
    // The size the archive claims is checked first; the bytes read are counted too, since it can lie.
    if ((st.valid & ZIP_STAT_SIZE) && st.size > kMaxMxlEntryBytes) throw too_big();
    zip_file_t* f = zip_fopen(z, name.c_str(), 0);
    if (!f) return false;
    out.clear();
    char buf[65536];
    zip_int64_t n;
    while ((n = zip_fread(f, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > kMaxMxlEntryBytes) {
            zip_fclose(f);
            throw too_big();
        }
    }
    zip_fclose(f);
    return n >= 0;
}

}  // namespace

Score parse_mxl(const std::string& bytes, const std::string& source) {
    if (bytes.empty()) throw Error(source, "empty file");
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    if (!src) throw Error(source, "cannot read the .mxl archive");
    zip_t* z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) {
        std::string why = zip_error_strerror(&err);
        zip_source_free(src);
        zip_error_fini(&err);
        throw Error(source, "not a valid .mxl (zip) archive: " + why);
    }
    zip_error_fini(&err);
    ZipCloser closer{z};
    std::string root_name;
    std::string container;
    if (zip_entry(z, "META-INF/container.xml", container, source)) {
        tinyxml2::XMLDocument doc;
        if (doc.Parse(container.data(), container.size()) != tinyxml2::XML_SUCCESS)
            throw Error(source, ".mxl has an unreadable META-INF/container.xml");
        const XMLElement* c = doc.RootElement();
        const XMLElement* rfs = c ? c->FirstChildElement("rootfiles") : nullptr;
        const XMLElement* rf = rfs ? rfs->FirstChildElement("rootfile") : nullptr;
        // The first rootfile is the score; later ones may be PDFs or images.
        for (; rf; rf = rf->NextSiblingElement("rootfile")) {
            std::string type = attr(rf, "media-type");
            if (type.empty() || type.find("musicxml") != std::string::npos || type.find("xml") != std::string::npos) {
                root_name = attr(rf, "full-path");
                break;
            }
        }
        if (root_name.empty()) throw Error(source, ".mxl container.xml names no root file");
    } else {
        // No container: take the first MusicXML entry outside META-INF, as readers do.
        zip_int64_t n = zip_get_num_entries(z, 0);
        for (zip_int64_t i = 0; i < n && root_name.empty(); ++i) {
            const char* nm = zip_get_name(z, static_cast<zip_uint64_t>(i), 0);
            if (!nm) continue;
            std::string s = nm;
            std::string ext = extension_of(s);
            if (s.rfind("META-INF", 0) != 0 && (ext == "xml" || ext == "musicxml")) root_name = s;
        }
        if (root_name.empty()) throw Error(source, ".mxl has no META-INF/container.xml and no MusicXML file");
    }
    std::string xml;
    if (!zip_entry(z, root_name, xml, source)) throw Error(source, ".mxl root file '" + root_name + "' is missing or unreadable");
    return parse_musicxml(xml, source);
}

Score read_score(const std::string& path) {
    std::string bytes = read_file(path);
    if (bytes.size() >= 4 && bytes.compare(0, 4, "PK\x03\x04") == 0) return parse_mxl(bytes, path);
    if (extension_of(path) == "mxl" && bytes.size() >= 2 && bytes.compare(0, 2, "PK") == 0) return parse_mxl(bytes, path);
    return parse_musicxml(bytes, path);
}

}  // namespace umt
