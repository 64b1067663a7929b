// LMX delinearizer: tokens -> Part. Lenient by design (model output is often broken):
// unknown or misplaced tokens become warnings, never exceptions.
#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <unordered_map>

#include "umt/io/lmx.hpp"

namespace umt::lmx {

namespace {

enum class Role { Prefix, Root, Suffix, Measure, Unknown };

const std::unordered_map<std::string, Rational>& type_quarters() {
    static const std::unordered_map<std::string, Rational> m = {
        {"1024th", Rational(1, 256)}, {"512th", Rational(1, 128)}, {"256th", Rational(1, 64)},
        {"128th", Rational(1, 32)},   {"64th", Rational(1, 16)},   {"32nd", Rational(1, 8)},
        {"16th", Rational(1, 4)},     {"eighth", Rational(1, 2)},  {"quarter", Rational(1)},
        {"half", Rational(2)},        {"whole", Rational(4)},      {"breve", Rational(8)},
        {"long", Rational(16)},       {"maxima", Rational(32)}};
    return m;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

bool is_pitch(const std::string& t) {
    return t.size() == 2 && t[0] >= 'A' && t[0] <= 'G' && t[1] >= '0' && t[1] <= '9';
}

bool is_time_modification(const std::string& t) {
    auto pos = t.find("in");
    return pos != std::string::npos && pos > 0 && std::isdigit(static_cast<unsigned char>(t[0])) && is_token(t);
}

Role role_of(const std::string& t) {
    if (!is_token(t)) return Role::Unknown;
    if (t == "measure") return Role::Measure;
    if (t == "print-object:no" || t == "grace" || t == "grace:slash" || t == "chord" || is_pitch(t) ||
        t == "rest" || t == "forward" || t == "backup" || starts_with(t, "voice:"))
        return Role::Prefix;
    if (type_quarters().count(t) || t == "rest:measure" || t == "time" || starts_with(t, "key:") ||
        starts_with(t, "clef:"))
        return Role::Root;
    return Role::Suffix;
}

struct Tree {
    std::vector<std::string> prefixes;
    std::string root;
    std::vector<std::string> suffixes;
};

int accidental_alter(const std::string& acc, bool& known) {
    known = true;
    if (acc == "sharp" || acc == "natural-sharp") return 1;
    if (acc == "flat" || acc == "natural-flat") return -1;
    if (acc == "natural") return 0;
    if (acc == "double-sharp") return 2;
    if (acc == "flat-flat") return -2;
    known = false;
    return 0;
}

int key_alter(int fifths, char step) {
    static const char sharps[] = "FCGDAEB";
    static const char flats[] = "BEADGCF";
    if (fifths > 0) {
        for (int i = 0; i < std::min(fifths, 7); ++i)
            if (sharps[i] == step) return 1;
    } else if (fifths < 0) {
        for (int i = 0; i < std::min(-fifths, 7); ++i)
            if (flats[i] == step) return -1;
    }
    return 0;
}

class Delinearizer {
public:
    explicit Delinearizer(std::vector<std::string>* warnings) : warnings_(warnings) {}

    Part run(const std::vector<std::string>& tokens) {
        Part part;
        part.id = "P1";
        part.name = "Piano";
        std::vector<std::string> measure_tokens;
        bool in_measure = false;
        size_t pos = 0;
        auto flush = [&] {
            if (in_measure) part.measures.push_back(measure(measure_tokens, part.measures.size() + 1));
            measure_tokens.clear();
        };
        for (const auto& t : tokens) {
            ++pos;
            Role r = role_of(t);
            if (r == Role::Unknown) {
                warn("token " + std::to_string(pos) + " '" + t + "' is not an LMX token; dropped");
                continue;
            }
            if (r == Role::Measure) {
                flush();
                in_measure = true;
                continue;
            }
            if (!in_measure) {
                warn("token " + std::to_string(pos) + " '" + t + "' comes before the first 'measure'; dropped");
                continue;
            }
            measure_tokens.push_back(t);
        }
        flush();
        finish(part);
        return part;
    }

private:
    std::vector<std::string>* warnings_;
    // part state
    Rational measure_length_ = Rational(4);
    int fifths_ = 0;
    std::map<std::pair<char, int>, int> open_ties_;  // (step, octave) -> alter of a tied-start note
    std::vector<int> open_slurs_;
    bool clef_staff_given_ = false;
    bool any_clef_ = false;
    int max_staff_ = 1;
    // measure state
    std::optional<int> voice_, staff_;
    std::optional<std::string> stem_;
    int open_beams_ = 0, open_grace_beams_ = 0;
    std::optional<Rational> last_piece_;  // type length of the last backup/forward token

    void warn(const std::string& w) {
        if (warnings_) warnings_->push_back(w);
    }

    std::vector<Tree> trees(const std::vector<std::string>& tokens, size_t number) {
        std::vector<Tree> out;
        std::vector<std::string> prefixes;
        bool have_root = false;
        for (const auto& t : tokens) {
            Role r = role_of(t);
            if (r == Role::Prefix) {
                prefixes.push_back(t);
            } else if (r == Role::Root) {
                out.push_back(Tree{std::move(prefixes), t, {}});
                prefixes.clear();
                have_root = true;
            } else if (have_root) {
                out.back().suffixes.push_back(t);
            } else {
                warn("measure " + std::to_string(number) + ": '" + t + "' has no note or attribute before it; dropped");
            }
        }
        for (const auto& p : prefixes)
            warn("measure " + std::to_string(number) + ": '" + p + "' at the end has no note type after it; dropped");
        return out;
    }

    Measure measure(const std::vector<std::string>& tokens, size_t number) {
        Measure m;
        m.number = std::to_string(number);
        voice_.reset();
        staff_.reset();
        stem_.reset();
        open_beams_ = open_grace_beams_ = 0;
        last_piece_.reset();
        std::optional<size_t> open_attributes;  // index of the <attributes> being filled
        for (auto& tree : trees(tokens, number)) {
            const std::string& root = tree.root;
            bool attr_root = root == "time" || starts_with(root, "key:") || starts_with(root, "clef:");
            if (attr_root) {
                if (!tree.prefixes.empty())
                    warn("measure " + std::to_string(number) + ": note tokens before '" + root + "' dropped");
                last_piece_.reset();
                if (!open_attributes) {
                    m.elements.emplace_back(Attributes{});
                    open_attributes = m.elements.size() - 1;
                }
                attribute(std::get<Attributes>(m.elements[*open_attributes]), tree, number);
                continue;
            }
            open_attributes.reset();
            notelike(m, tree, number);
        }
        return m;
    }

    // One long backup/forward is written as pieces of strictly decreasing type; a piece
    // as long as or longer than the one before starts a new element (the source had two).
    bool continues_split(const Measure& m, bool backup, const Rational& piece) const {
        if (m.elements.empty() || !last_piece_ || !(piece < *last_piece_)) return false;
        return backup ? std::holds_alternative<Backup>(m.elements.back())
                      : std::holds_alternative<Forward>(m.elements.back());
    }

    void unexpected(const Tree& tree, const std::string& t, size_t number) {
        warn("measure " + std::to_string(number) + ": '" + t + "' does not belong to '" + tree.root + "'; dropped");
    }

    void attribute(Attributes& a, const Tree& tree, size_t number) {
        const std::string& root = tree.root;
        if (starts_with(root, "key:fifths:")) {
            fifths_ = std::stoi(root.substr(11));
            a.key = Key{fifths_, ""};
            for (const auto& s : tree.suffixes) unexpected(tree, s, number);
        } else if (root == "time") {
            std::optional<int> beats, beat_type;
            for (const auto& s : tree.suffixes) {
                if (starts_with(s, "beats:")) beats = std::stoi(s.substr(6));
                else if (starts_with(s, "beat-type:")) beat_type = std::stoi(s.substr(10));
                else unexpected(tree, s, number);
            }
            if (!beats) warn("measure " + std::to_string(number) + ": time without beats; 4 assumed");
            if (!beat_type) warn("measure " + std::to_string(number) + ": time without beat-type; 4 assumed");
            a.time = TimeSignature{beats.value_or(4), beat_type.value_or(4), ""};
            measure_length_ = a.time->measure_length();
        } else {  // clef:XN
            Clef c;
            c.sign = root[5];
            c.line = root[6] - '0';
            any_clef_ = true;
            for (const auto& s : tree.suffixes) {
                if (starts_with(s, "staff:")) {
                    c.staff = std::stoi(s.substr(6));
                    clef_staff_given_ = true;
                    max_staff_ = std::max(max_staff_, c.staff);
                } else {
                    unexpected(tree, s, number);
                }
            }
            a.clefs.push_back(c);
        }
    }

    Rational base_duration(const std::string& type, int dots, const std::optional<TimeModification>& tm) {
        Rational d = type_quarters().at(type);
        Rational add = d / Rational(2);
        for (int i = 0; i < dots; ++i) {
            d += add;
            add = add / Rational(2);
        }
        if (tm) d = d * Rational(tm->normal, tm->actual);
        return d;
    }

    static std::optional<TimeModification> parse_tm(const std::string& t) {
        auto pos = t.find("in");
        return TimeModification{std::stoi(t.substr(0, pos)), std::stoi(t.substr(pos + 2)), ""};
    }

    void notelike(Measure& m, const Tree& tree, size_t number) {
        bool is_backup = std::count(tree.prefixes.begin(), tree.prefixes.end(), "backup") > 0;
        bool is_forward = std::count(tree.prefixes.begin(), tree.prefixes.end(), "forward") > 0;
        if (is_backup || is_forward) {
            open_beams_ = open_grace_beams_ = 0;
            if (tree.root == "rest:measure") {
                warn("measure " + std::to_string(number) + ": rest:measure cannot be a backup/forward length; dropped");
                return;
            }
            std::optional<TimeModification> tm;
            int dots = 0;
            for (const auto& s : tree.suffixes) {
                if (is_time_modification(s)) tm = parse_tm(s);
                else if (s == "dot") ++dots;
                else unexpected(tree, s, number);
            }
            for (const auto& p : tree.prefixes)
                if (p != "backup" && p != "forward") unexpected(tree, p, number);
            Rational d = base_duration(tree.root, dots, tm);
            if (is_backup) {
                voice_.reset();
                staff_.reset();
                stem_.reset();
                if (continues_split(m, true, d)) {
                    std::get<Backup>(m.elements.back()).duration += d;
                } else {
                    m.elements.emplace_back(Backup{d});
                }
            } else {
                if (continues_split(m, false, d)) {
                    std::get<Forward>(m.elements.back()).duration += d;
                } else {
                    Forward f;
                    f.duration = d;
                    m.elements.emplace_back(f);
                }
            }
            last_piece_ = d;
            return;
        }
        last_piece_.reset();
        Note n;
        bool kind_seen = false;
        for (const auto& p : tree.prefixes) {
            if (p == "print-object:no") n.print_object = false;
            else if (p == "grace") n.grace = true;
            else if (p == "grace:slash") n.grace = n.grace_slash = true;
            else if (p == "chord") n.chord = true;
            else if (p == "rest") { n.is_rest = true; kind_seen = true; }
            else if (is_pitch(p)) {
                n.pitch.step = p[0];
                n.pitch.octave = p[1] - '0';
                kind_seen = true;
            } else if (starts_with(p, "voice:")) voice_ = std::stoi(p.substr(6));
        }
        if (!kind_seen) {
            warn("measure " + std::to_string(number) + ": '" + tree.root + "' has no pitch or rest; read as a rest");
            n.is_rest = true;
        }
        if (voice_) n.voice = *voice_;
        else n.has_voice = false;
        std::vector<std::string> beam_tokens;
        for (const auto& s : tree.suffixes) {
            if (is_time_modification(s)) n.time_modification = parse_tm(s);
            else if (s == "dot") ++n.dots;
            else if (s == "sharp" || s == "flat" || s == "natural" || s == "double-sharp" || s == "flat-flat" ||
                     s == "natural-sharp" || s == "natural-flat")
                n.accidental = s;
            else if (starts_with(s, "stem:")) { stem_ = s.substr(5); n.stem = *stem_; }
            else if (starts_with(s, "staff:")) staff_ = std::stoi(s.substr(6));
            else if (starts_with(s, "beam:")) beam_tokens.push_back(s.substr(5));
            else if (starts_with(s, "tied:")) {
                std::string type = s.substr(5);
                n.tied_types.push_back(type);
                if (type == "start") n.tied_start = n.tie_start = true;
                else n.tied_stop = n.tie_stop = true;
            } else if (starts_with(s, "tuplet:")) n.tuplets.push_back(s.substr(7));
            else if (s == "slur:start") {
                int number_free = 1;
                while (std::count(open_slurs_.begin(), open_slurs_.end(), number_free)) ++number_free;
                open_slurs_.push_back(number_free);
                n.slurs.emplace_back("start", number_free);
            } else if (s == "slur:stop") {
                int num = 1;
                if (!open_slurs_.empty()) {
                    num = open_slurs_.back();
                    open_slurs_.pop_back();
                }
                n.slurs.emplace_back("stop", num);
            } else if (s == "fermata") n.fermata = true;
            else if (s == "arpeggiate") n.arpeggiate = true;
            else if (s == "staccato") n.staccato = true;
            else if (s == "accent") n.accent = true;
            else if (s == "strong-accent") n.strong_accent = true;
            else if (s == "tenuto") n.tenuto = true;
            else if (s == "trill-mark") n.trill_mark = true;
            else if (starts_with(s, "tremolo:")) {
                std::string v = s.substr(8);
                if (!n.tremolo) n.tremolo = Tremolo{"single", 0};
                if (std::isdigit(static_cast<unsigned char>(v[0]))) n.tremolo->marks = std::stoi(v);
                else n.tremolo->type = v;
            } else unexpected(tree, s, number);
        }
        // A stem token sets the state for later notes; rests only carry an explicit one.
        if (!n.is_rest && n.stem.empty() && stem_) n.stem = *stem_;
        if (staff_) {
            n.staff = *staff_;
            max_staff_ = std::max(max_staff_, n.staff);
        } else {
            n.has_staff = false;
        }
        if (tree.root == "rest:measure") {
            if (!n.is_rest) warn("measure " + std::to_string(number) + ": rest:measure on a pitch; read as a rest");
            n.is_rest = true;
            n.measure_rest = true;
            n.duration = measure_length_;
        } else {
            n.type = tree.root;
            n.duration = n.grace ? Rational(0) : base_duration(n.type, n.dots, n.time_modification);
        }
        beams(n, beam_tokens);
        m.elements.emplace_back(std::move(n));
    }

    // LMX drops beam "continue"; lower levels that stay open get it back.
    void beams(Note& n, const std::vector<std::string>& tokens) {
        int& open = n.grace ? open_grace_beams_ : open_beams_;
        if (tokens.empty()) {
            for (int level = 1; level <= open; ++level) n.beams.push_back(Beam{level, "continue"});
            return;
        }
        int ends = static_cast<int>(std::count(tokens.begin(), tokens.end(), "end"));
        int begins = static_cast<int>(std::count(tokens.begin(), tokens.end(), "begin"));
        int continuing = std::max(0, open - ends);
        for (int level = 1; level <= continuing; ++level) n.beams.push_back(Beam{level, "continue"});
        int level = continuing;
        for (const auto& t : tokens) {
            std::string value = t == "forward-hook" ? "forward hook" : t == "backward-hook" ? "backward hook" : t;
            n.beams.push_back(Beam{++level, value});
        }
        open = continuing + begins;
    }

    // Alters from the key, accidentals carried per (staff, step, octave) through the
    // measure, and ties (a tied-stop note keeps its start's alter).
    void rebuild_alters(Part& part) {
        int fifths = 0;
        for (auto& m : part.measures) {
            std::map<std::tuple<int, char, int>, int> carried;
            for (auto& e : m.elements) {
                if (auto* a = std::get_if<Attributes>(&e)) {
                    if (a->key) fifths = a->key->fifths;
                    continue;
                }
                auto* n = std::get_if<Note>(&e);
                if (!n || n->is_rest) continue;
                auto slot = std::make_tuple(n->staff, n->pitch.step, n->pitch.octave);
                auto tie_key = std::make_pair(n->pitch.step, n->pitch.octave);
                bool known;
                int acc = accidental_alter(n->accidental, known);
                if (known) {
                    n->pitch.alter = acc;
                    carried[slot] = acc;
                } else if (auto it = open_ties_.find(tie_key); n->tied_stop && it != open_ties_.end()) {
                    n->pitch.alter = it->second;
                } else if (auto c = carried.find(slot); c != carried.end()) {
                    n->pitch.alter = c->second;
                } else {
                    n->pitch.alter = key_alter(fifths, n->pitch.step);
                }
                if (n->tied_stop) open_ties_.erase(tie_key);
                if (n->tied_start) open_ties_[tie_key] = n->pitch.alter;
            }
        }
    }

    void finish(Part& part) {
        rebuild_alters(part);
        int64_t divisions = 1;
        for (const auto& m : part.measures)
            for (const auto& e : m.elements) {
                Rational d;
                if (auto* n = std::get_if<Note>(&e)) d = n->duration;
                else if (auto* b = std::get_if<Backup>(&e)) d = b->duration;
                else if (auto* f = std::get_if<Forward>(&e)) d = f->duration;
                divisions = std::lcm(divisions, d.den());
                if (divisions > (int64_t(1) << 24)) divisions = int64_t(1) << 24;  // garbage tuplets
            }
        if (part.measures.empty()) return;
        Measure& first = part.measures.front();
        Attributes* head = first.elements.empty() ? nullptr : std::get_if<Attributes>(&first.elements.front());
        if (!head) {
            first.elements.insert(first.elements.begin(), Attributes{});
            head = std::get_if<Attributes>(&first.elements.front());
        }
        head->divisions = static_cast<int>(divisions);
        // <staves> only where LMX said so (a staff after a clef), so that linearizing
        // again writes the same clef tokens; or where notes need it and no clef speaks.
        if (clef_staff_given_ || (!any_clef_ && max_staff_ > 1)) head->staves = max_staff_;
    }
};

}  // namespace

Part delinearize(const std::vector<std::string>& tokens, std::vector<std::string>* warnings) {
    return Delinearizer(warnings).run(tokens);
}

Score delinearize_score(const std::vector<std::string>& tokens, std::vector<std::string>* warnings) {
    Score score;
    score.parts.push_back(delinearize(tokens, warnings));
    return score;
}

}  // namespace umt::lmx
