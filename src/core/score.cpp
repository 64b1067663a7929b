#include "umt/core/score.hpp"

#include <cctype>

#include "umt/core/error.hpp"

namespace umt {

std::string XmlElement::attribute(const std::string& key) const {
    for (const auto& [k, v] : attributes)
        if (k == key) return v;
    return {};
}

const XmlElement* XmlElement::child(const std::string& child_name) const {
    for (const auto& c : children)
        if (c.name == child_name) return &c;
    return nullptr;
}

int Pitch::midi() const {
    static const int base[7] = {9, 11, 0, 2, 4, 5, 7};  // A B C D E F G
    int idx = (step >= 'A' && step <= 'G') ? step - 'A' : 2;
    return (octave + 1) * 12 + base[idx] + alter;
}

int Part::staff_count() const {
    for (const auto& m : measures)
        for (const auto& e : m.elements)
            if (auto* a = std::get_if<Attributes>(&e))
                if (a->staves) return *a->staves;
    return 1;
}

namespace {
bool keyboard_name(std::string name) {
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* k : {"piano", "klavier", "harpsichord", "cembalo", "organ", "orgel"})
        if (name.find(k) != std::string::npos) return true;
    return false;
}
}  // namespace

size_t Score::default_part_index() const {
    if (parts.empty()) throw Error("score has no parts");
    // A voice part can be written on two staves too (lc6248305): a two-staff part
    // named like a keyboard wins over the first two-staff part.
    for (size_t i = 0; i < parts.size(); ++i)
        if (parts[i].staff_count() == 2 && keyboard_name(parts[i].name)) return i;
    for (size_t i = 0; i < parts.size(); ++i)
        if (parts[i].staff_count() == 2) return i;
    return parts.size() - 1;
}

const Part& Score::default_part() const { return parts[default_part_index()]; }

}  // namespace umt
