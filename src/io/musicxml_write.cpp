// MusicXML writer: Score -> partwise MusicXML 4.0 text or .mxl archive.
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
        if (!score.title.empty()) o << "  <work><work-title>" << esc(score.title) << "</work-title></work>\n";
        o << "  <identification>\n";
        if (!score.composer.empty()) o << "    <creator type=\"composer\">" << esc(score.composer) << "</creator>\n";
        o << "    <encoding><software>umt</software></encoding>\n  </identification>\n";
        o << "  <part-list>\n";
        for (size_t i = 0; i < score.parts.size(); ++i) {
            const Part& p = score.parts[i];
            std::string id = part_id(score, i);
            o << "    <score-part id=\"" << esc(id) << "\">\n"
              << "      <part-name>" << esc(p.name) << "</part-name>\n"
              << "      <score-instrument id=\"" << esc(id) << "-I1\"><instrument-name>" << esc(p.name)
              << "</instrument-name></score-instrument>\n"
              << "      <midi-instrument id=\"" << esc(id) << "-I1\">";
            if (p.midi_channel >= 0) o << "<midi-channel>" << p.midi_channel + 1 << "</midi-channel>";
            o << "<midi-program>" << p.midi_program + 1 << "</midi-program></midi-instrument>\n"
              << "    </score-part>\n";
        }
        o << "  </part-list>\n";
        for (size_t i = 0; i < score.parts.size(); ++i) write_part(score.parts[i], part_id(score, i));
        o << "</score-partwise>\n";
        return o.str();
    }

private:
    std::ostringstream o;
    bool keep_divisions = true;
    int divisions = 1;

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
            o << ">\n";
            if (m.new_system || m.new_page) {
                o << "      <print";
                if (m.new_system) o << " new-system=\"yes\"";
                if (m.new_page) o << " new-page=\"yes\"";
                o << "/>\n";
            }
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
                first = false;
            }
            for (const auto& b : m.barlines)
                if (b.location != "left") write_barline(b);
            o << "    </measure>\n";
        }
        o << "  </part>\n";
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
        for (const auto& c : a.clefs) {
            o << "<clef";
            if (a.staves || c.staff != 1) o << " number=\"" << c.staff << "\"";
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
        if (n.has_voice) o << "<voice>" << n.voice << "</voice>";
        if (!n.type.empty()) o << "<type>" << esc(n.type) << "</type>";
        for (int i = 0; i < n.dots; ++i) o << "<dot/>";
        if (!n.accidental.empty()) o << "<accidental>" << esc(n.accidental) << "</accidental>";
        if (n.time_modification) {
            o << "<time-modification><actual-notes>" << n.time_modification->actual << "</actual-notes><normal-notes>"
              << n.time_modification->normal << "</normal-notes>";
            if (!n.time_modification->normal_type.empty())
                o << "<normal-type>" << esc(n.time_modification->normal_type) << "</normal-type>";
            o << "</time-modification>";
        }
        if (!n.stem.empty()) o << "<stem>" << esc(n.stem) << "</stem>";
        if (n.has_staff) o << "<staff>" << n.staff << "</staff>";
        for (const auto& b : n.beams) o << "<beam number=\"" << b.number << "\">" << esc(b.value) << "</beam>";
        write_notations(n);
        o << "</note>\n";
    }

    void write_notations(const Note& n) {
        std::ostringstream s;
        std::vector<std::string> tied = n.tied_types;
        if (tied.empty()) {
            if (n.tied_stop) tied.push_back("stop");
            if (n.tied_start) tied.push_back("start");
        }
        for (const auto& t : tied) s << "<tied type=\"" << esc(t) << "\"/>";
        for (const auto& [type, number] : n.slurs) s << "<slur type=\"" << esc(type) << "\" number=\"" << number << "\"/>";
        for (const auto& t : n.tuplets) s << "<tuplet type=\"" << esc(t) << "\"/>";
        if (n.trill_mark || n.tremolo) {
            s << "<ornaments>";
            if (n.trill_mark) s << "<trill-mark/>";
            if (n.tremolo) s << "<tremolo type=\"" << esc(tremolo_or(n.tremolo->type)) << "\">" << n.tremolo->marks << "</tremolo>";
            s << "</ornaments>";
        }
        if (n.accent || n.strong_accent || n.staccato || n.tenuto || n.staccatissimo) {
            s << "<articulations>";
            if (n.accent) s << "<accent/>";
            if (n.strong_accent) s << "<strong-accent/>";
            if (n.staccato) s << "<staccato/>";
            if (n.tenuto) s << "<tenuto/>";
            if (n.staccatissimo) s << "<staccatissimo/>";
            s << "</articulations>";
        }
        if (n.fermata) s << "<fermata/>";
        if (n.arpeggiate) s << "<arpeggiate/>";
        std::string inner = s.str();
        if (!inner.empty()) o << "<notations>" << inner << "</notations>";
    }

    void write_direction(const Direction& d) {
        o << "      <direction>";
        if (!d.dynamic_mark.empty())
            o << "<direction-type><dynamics><" << esc(d.dynamic_mark) << "/></dynamics></direction-type>";
        else
            o << "<direction-type><words/></direction-type>";
        if (!d.offset.is_zero()) o << "<offset>" << (d.offset < Rational(0) ? "-" + units(-d.offset) : units(d.offset)) << "</offset>";
        o << "<staff>" << d.staff << "</staff>";
        if (d.tempo_qpm || d.dynamics) {
            o << "<sound";
            if (d.tempo_qpm) o << " tempo=\"" << fmt_double(*d.tempo_qpm) << "\"";
            if (d.dynamics) o << " dynamics=\"" << fmt_double(*d.dynamics) << "\"";
            o << "/>";
        }
        o << "</direction>\n";
    }

    void write_barline(const Barline& b) {
        o << "      <barline location=\"" << esc(b.location) << "\">";
        bool light_heavy = b.repeat == "backward";
        if (b.repeat == "forward") o << "<bar-style>heavy-light</bar-style>";
        else if (light_heavy) o << "<bar-style>light-heavy</bar-style>";
        if (!b.ending_type.empty()) {
            std::string nums;
            for (size_t i = 0; i < b.ending_numbers.size(); ++i) nums += (i ? "," : "") + std::to_string(b.ending_numbers[i]);
            if (nums.empty()) nums = "1";
            o << "<ending number=\"" << nums << "\" type=\"" << esc(b.ending_type) << "\"/>";
        }
        if (!b.repeat.empty()) {
            o << "<repeat direction=\"" << esc(b.repeat) << "\"";
            if (b.repeat == "backward" && b.times != 2) o << " times=\"" << b.times << "\"";
            o << "/>";
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
