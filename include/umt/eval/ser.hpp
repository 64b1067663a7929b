// Symbol error rate (docs/LMX.md "Metric"): token Levenshtein distance, micro-averaged over a set.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace umt::eval {

// Unit-cost Levenshtein distance between two token sequences. Runs in
// O(|a|·|b|/64) time with bit-parallel rows (Myers/Hyyrö) and O(|a|+|b|) memory,
// so whole pieces of 10k+ tokens are cheap.
std::size_t token_edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b);

// The same on integer ids (the form the SER code maps tokens to).
std::size_t edit_distance_ids(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b);

// Plain two-row dynamic programme, O(|a|·|b|) time: the definition the fast
// version is tested against.
std::size_t edit_distance_reference(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b);

// Splits on any white space (space, tab, newline...), dropping empty pieces.
std::vector<std::string> split_tokens(const std::string& text);

struct SerItem {
    std::string name;          // file name or caller's label
    std::size_t errors = 0;    // Levenshtein(ref, hyp)
    std::size_t ref_tokens = 0;
    std::size_t hyp_tokens = 0;
    bool hyp_missing = false;  // scored as an empty hypothesis
    double ser() const { return ref_tokens ? 100.0 * double(errors) / double(ref_tokens) : (errors ? 100.0 : 0.0); }
};

struct SerResult {
    std::size_t errors = 0;      // Σ distances
    std::size_t ref_tokens = 0;  // Σ |ref|
    std::vector<SerItem> items;  // per-pair breakdown, in the order added
    // 100 × Σ dist / Σ |ref|; 0 when there are no reference tokens and no errors.
    double ser() const {
        return ref_tokens ? 100.0 * double(errors) / double(ref_tokens) : (errors ? 100.0 : 0.0);
    }
};

// Accumulates pairs into a micro-averaged SER.
class SerAccumulator {
public:
    const SerItem& add(const std::string& name, const std::vector<std::string>& ref, const std::vector<std::string>& hyp,
                       bool hyp_missing = false);
    const SerResult& result() const { return result_; }

private:
    SerResult result_;
};

// One pair of LMX texts.
SerItem ser_of_texts(const std::string& ref_text, const std::string& hyp_text);

}  // namespace umt::eval
