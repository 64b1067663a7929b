#include "umt/core/score.hpp"

#include "umt/core/error.hpp"

namespace umt {

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

size_t Score::default_part_index() const {
    if (parts.empty()) throw Error("score has no parts");
    for (size_t i = 0; i < parts.size(); ++i)
        if (parts[i].staff_count() == 2) return i;
    return parts.size() - 1;
}

const Part& Score::default_part() const { return parts[default_part_index()]; }

}  // namespace umt
