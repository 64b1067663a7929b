// Symbol error rate: token Levenshtein distance (bit-parallel) and its micro average.
#include "umt/eval/ser.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace umt::eval {

std::vector<std::string> split_tokens(const std::string& text) {
    std::vector<std::string> out;
    std::size_t i = 0, n = text.size();
    while (i < n) {
        while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        std::size_t start = i;
        while (i < n && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i > start) out.emplace_back(text, start, i - start);
    }
    return out;
}

std::size_t edit_distance_reference(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({sub, prev[j] + 1, cur[j - 1] + 1});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// Myers' bit-vector algorithm in Hyyrö's multi-block form for global distance:
// the columns of the DP matrix are kept as vertical +1/-1 delta bit vectors of the
// pattern `a`, 64 rows per word, and the text `b` is consumed one symbol at a time.
std::size_t edit_distance_ids(const std::vector<std::uint32_t>& a_in, const std::vector<std::uint32_t>& b_in) {
    const auto& a = a_in.size() <= b_in.size() ? a_in : b_in;  // shorter one as pattern: smaller tables
    const auto& b = a_in.size() <= b_in.size() ? b_in : a_in;
    const std::size_t m = a.size();
    if (m == 0) return b.size();
    const std::size_t blocks = (m + 63) / 64;

    // Dense symbol numbering of the pattern; text symbols absent from it match nothing.
    std::unordered_map<std::uint32_t, std::size_t> slot;
    for (auto s : a) slot.emplace(s, slot.size());
    std::vector<std::uint64_t> peq((slot.size() + 1) * blocks, 0);  // last row: all zero
    for (std::size_t i = 0; i < m; ++i) peq[slot[a[i]] * blocks + i / 64] |= std::uint64_t(1) << (i % 64);
    const std::size_t none = slot.size();

    std::vector<std::uint64_t> pv(blocks, ~std::uint64_t(0)), mv(blocks, 0);
    const std::uint64_t last_high = std::uint64_t(1) << ((m - 1) % 64);
    const std::uint64_t high = std::uint64_t(1) << 63;
    std::size_t score = m;
    for (auto s : b) {
        auto it = slot.find(s);
        const std::uint64_t* eqs = &peq[(it == slot.end() ? none : it->second) * blocks];
        int hin = 1;  // row 0 of the matrix grows by one per column
        for (std::size_t k = 0; k < blocks; ++k) {
            std::uint64_t eq = eqs[k], p = pv[k], mm = mv[k];
            std::uint64_t xv = eq | mm;
            if (hin < 0) eq |= 1;
            std::uint64_t xh = (((eq & p) + p) ^ p) | eq;
            std::uint64_t ph = mm | ~(xh | p);
            std::uint64_t mh = p & xh;
            std::uint64_t hb = k + 1 == blocks ? last_high : high;
            int hout = (ph & hb) ? 1 : (mh & hb) ? -1 : 0;
            ph <<= 1;
            mh <<= 1;
            if (hin < 0) mh |= 1;
            else if (hin > 0) ph |= 1;
            pv[k] = mh | ~(xv | ph);
            mv[k] = ph & xv;
            hin = hout;
        }
        score = static_cast<std::size_t>(static_cast<long long>(score) + hin);
    }
    return score;
}

namespace {
void to_ids(const std::vector<std::string>& a, const std::vector<std::string>& b, std::vector<std::uint32_t>& ia,
            std::vector<std::uint32_t>& ib) {
    std::unordered_map<std::string, std::uint32_t> ids;
    auto id = [&](const std::string& t) { return ids.emplace(t, static_cast<std::uint32_t>(ids.size())).first->second; };
    ia.reserve(a.size());
    ib.reserve(b.size());
    for (const auto& t : a) ia.push_back(id(t));
    for (const auto& t : b) ib.push_back(id(t));
}
}  // namespace

std::size_t token_edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::vector<std::uint32_t> ia, ib;
    to_ids(a, b, ia, ib);
    return edit_distance_ids(ia, ib);
}

const SerItem& SerAccumulator::add(const std::string& name, const std::vector<std::string>& ref,
                                   const std::vector<std::string>& hyp, bool hyp_missing) {
    SerItem item;
    item.name = name;
    item.errors = token_edit_distance(ref, hyp);
    item.ref_tokens = ref.size();
    item.hyp_tokens = hyp.size();
    item.hyp_missing = hyp_missing;
    result_.errors += item.errors;
    result_.ref_tokens += item.ref_tokens;
    result_.items.push_back(std::move(item));
    return result_.items.back();
}

SerItem ser_of_texts(const std::string& ref_text, const std::string& hyp_text) {
    SerAccumulator acc;
    return acc.add("", split_tokens(ref_text), split_tokens(hyp_text));
}

}  // namespace umt::eval
