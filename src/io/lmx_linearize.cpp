// LMX linearizer: Part -> tokens, following the reference implementation's rules
// (ufal/olimpic-icdar24) so that our output matches the published LMX token for token.
#include <cmath>
#include <map>
#include <optional>

#include "umt/io/lmx.hpp"

namespace umt::lmx {

namespace {

const char* const kTypesLongestFirst[] = {"maxima", "long", "breve", "whole", "half", "quarter", "eighth",
                                          "16th", "32nd", "64th", "128th", "256th", "512th", "1024th"};

class Linearizer {
public:
    explicit Linearizer(std::vector<std::string>& out) : out_(out) {}

    void measure(const Measure& m) {
        voice_.reset();
        stem_.reset();
        staff_.reset();
        emit("measure");
        for (const auto& e : m.elements) {
            if (auto* a = std::get_if<Attributes>(&e)) attributes(*a);
            else if (auto* n = std::get_if<Note>(&e)) note(*n);
            else if (auto* b = std::get_if<Backup>(&e)) backup(*b);
            else if (auto* f = std::get_if<Forward>(&e)) split("forward", f->duration);
            // directions are not part of LMX
        }
    }

private:
    std::vector<std::string>& out_;
    int divisions_ = 1;
    bool staves_seen_ = false;
    std::optional<int> voice_, staff_;
    std::optional<std::string> stem_;

    // Tokens outside the vocabulary (beats:17, voice:13, exotic accidentals...) are
    // dropped, as the reference does in its lenient mode.
    void emit(const std::string& t) {
        if (is_token(t)) out_.push_back(t);
    }

    void attributes(const Attributes& a) {
        if (a.divisions && *a.divisions > 0) divisions_ = *a.divisions;
        if (a.key) emit("key:fifths:" + std::to_string(a.key->fifths));
        if (a.time) {
            emit("time");
            emit("beats:" + std::to_string(a.time->beats));
            emit("beat-type:" + std::to_string(a.time->beat_type));
        }
        if (a.staves) staves_seen_ = true;
        // Clefs in staff order; a later clef for the same staff in one block wins.
        std::map<int, const Clef*> by_staff;
        for (const auto& c : a.clefs) by_staff[c.staff] = &c;
        for (const auto& [staff, c] : by_staff) {
            std::string tok = std::string("clef:") + c->sign + std::to_string(c->line);
            if (!is_token(tok)) continue;
            emit(tok);
            if (staves_seen_) emit("staff:" + std::to_string(staff));
        }
    }

    // Durations are split in the file's own <divisions> units with integer halving,
    // exactly like the reference, so odd divisions give its (odd) type lists too.
    void split(const char* kind, const Rational& duration) {
        Rational units_r = duration * Rational(divisions_);
        long long units = units_r.den() == 1 ? units_r.num() : std::llround(units_r.to_double());
        if (units <= 0) return;
        long long remainder = units;
        long long step = static_cast<long long>(divisions_) * 32;
        for (const char* type : kTypesLongestFirst) {
            if (remainder <= 0) break;
            if (step <= remainder) {
                emit(kind);
                emit(type);
                remainder -= step;
            }
            step /= 2;
        }
    }

    void backup(const Backup& b) {
        split("backup", b.duration);
        voice_.reset();
        staff_.reset();
        stem_.reset();
    }

    void note(const Note& n) {
        if (!n.print_object) emit("print-object:no");
        if (n.grace) {
            emit("grace");
            if (n.grace_slash) emit("grace:slash");
        }
        if (n.chord) emit("chord");
        if (n.is_rest) emit("rest");
        else emit(std::string(1, n.pitch.step) + std::to_string(n.pitch.octave));
        if (n.has_voice && voice_ != n.voice) {
            emit("voice:" + std::to_string(n.voice));
            voice_ = n.voice;
        }
        if (!n.type.empty()) emit(n.type);
        else if (n.is_rest && n.measure_rest) emit("rest:measure");
        if (n.time_modification)
            emit(std::to_string(n.time_modification->actual) + "in" + std::to_string(n.time_modification->normal));
        for (int i = 0; i < n.dots; ++i) emit("dot");
        if (!n.accidental.empty()) emit(n.accidental);
        if (n.stem == "up" || n.stem == "down" || n.stem == "none") {
            if (stem_ != n.stem) {
                emit("stem:" + n.stem);
                stem_ = n.stem;
            }
        }
        if (n.has_staff && n.staff >= 1 && n.staff <= 3 && staff_ != n.staff) {
            emit("staff:" + std::to_string(n.staff));
            staff_ = n.staff;
        }
        for (const auto& b : n.beams) {
            if (b.value == "continue") continue;
            if (b.value == "forward hook") emit("beam:forward-hook");
            else if (b.value == "backward hook") emit("beam:backward-hook");
            else emit("beam:" + b.value);
        }
        if (!n.tied_types.empty()) {
            for (const auto& t : n.tied_types) emit("tied:" + t);
        } else {
            if (n.tied_stop) emit("tied:stop");
            if (n.tied_start) emit("tied:start");
        }
        for (const auto& t : n.tuplets) emit("tuplet:" + t);
        for (const auto& s : n.slurs)
            if (s.first != "continue") emit("slur:" + s.first);
        if (n.fermata) emit("fermata");
        if (n.arpeggiate) emit("arpeggiate");
        if (n.staccato) emit("staccato");
        if (n.accent) emit("accent");
        if (n.strong_accent) emit("strong-accent");
        if (n.tenuto) emit("tenuto");
        if (n.tremolo) {
            emit("tremolo:" + (n.tremolo->type.empty() ? std::string("single") : n.tremolo->type));
            emit("tremolo:" + std::to_string(n.tremolo->marks));
        }
        if (n.trill_mark) emit("trill-mark");
    }
};

// The key and clefs in force after `m` (for restating them at a system start).
struct Context {
    std::optional<Key> key;
    std::map<int, Clef> clefs;
    void update(const Measure& m) {
        for (const auto& e : m.elements)
            if (auto* a = std::get_if<Attributes>(&e)) {
                if (a->key) key = a->key;
                for (const auto& c : a->clefs) clefs[c.staff] = c;
            }
    }
};

// A copy of `m` whose first element restates the key and clefs in force, keeping
// whatever the measure itself says at its start (a clef change there wins).
Measure restated(const Measure& m, const Context& ctx) {
    Measure out = m;
    Attributes* head = nullptr;
    if (!out.elements.empty()) head = std::get_if<Attributes>(&out.elements.front());
    if (!head) {
        out.elements.insert(out.elements.begin(), Attributes{});
        head = std::get_if<Attributes>(&out.elements.front());
    }
    if (!head->key && ctx.key) head->key = ctx.key;
    for (const auto& [staff, clef] : ctx.clefs) {
        bool has = false;
        for (const auto& c : head->clefs) has |= c.staff == staff;
        if (!has) head->clefs.push_back(clef);
    }
    return out;
}

}  // namespace

std::vector<std::string> linearize(const Part& part) {
    std::vector<std::string> out;
    Linearizer lin(out);
    for (const auto& m : part.measures) lin.measure(m);
    return out;
}

std::vector<std::vector<std::string>> linearize_systems(const Part& part) {
    std::vector<std::vector<std::string>> systems;
    std::vector<std::string> cur;
    Linearizer lin(cur);
    Context ctx;
    for (size_t i = 0; i < part.measures.size(); ++i) {
        const Measure& m = part.measures[i];
        bool starts_system = i > 0 && (m.new_system || m.new_page);
        if (starts_system) {
            systems.push_back(std::move(cur));
            cur.clear();
            lin.measure(restated(m, ctx));
        } else {
            lin.measure(m);
        }
        ctx.update(m);
    }
    if (!cur.empty() || systems.empty()) systems.push_back(std::move(cur));
    return systems;
}

}  // namespace umt::lmx
