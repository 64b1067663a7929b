// Staff-line based layout analysis: flatten the paper, binarize, run-length statistics,
// deskew, staff lines from a dash-tolerant horizontal-stroke projection, 5-line staves,
// systems joined by vertical strokes (system barline, bracket), crops split at the
// blank row between systems.
#include "umt/layout/systems.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"

namespace umt::layout {

namespace {

constexpr double kPi = 3.14159265358979323846;
// Share of a row window that must be ink for a horizontal stroke (dashed lines pass).
constexpr double kStrokeFill = 0.3;
// Gaps (in line distances) bridged when measuring a staff line's extent: a badly
// scanned line falls apart into long pieces, a bar of rests leaves no holes that long.
constexpr double kGapLines = 8.0;

struct RunStats {
    int thickness = 0;  // most common black vertical run
    int distance = 0;   // most common black run + following white run
};

// Vertical run-length statistics over a sample of columns (Fujinaga's staff line
// height / staff space estimate): staff lines dominate the regular black-white rhythm.
RunStats vertical_run_stats(const cv::Mat& ink) {
    const int H = ink.rows, W = ink.cols;
    std::vector<int> black(H + 1, 0), pair(2 * H + 2, 0);
    const int step = std::max(1, W / 600);
    for (int x = 0; x < W; x += step) {
        int y = 0;
        while (y < H && !ink.at<uint8_t>(y, x)) ++y;
        while (y < H) {
            int b0 = y;
            while (y < H && ink.at<uint8_t>(y, x)) ++y;
            int b = y - b0;
            int w0 = y;
            while (y < H && !ink.at<uint8_t>(y, x)) ++y;
            int w = y - w0;
            black[b]++;
            if (y < H) pair[b + w]++;  // only white runs closed by ink below
        }
    }
    RunStats s;
    // Distances below 4 px are noise or dithering, not staff spacing.
    int best = 0;
    for (int d = 4; d < int(pair.size()) && d < H / 4; ++d)
        if (pair[d] > best) best = pair[d], s.distance = d;
    best = 0;
    for (int t = 1; t < int(black.size()) && (s.distance == 0 || t <= s.distance / 2); ++t)
        if (black[t] > best) best = black[t], s.thickness = t;
    return s;
}

// Keeps horizontal runs of at least min_len ink pixels (an opening with a 1 x min_len
// line, in linear time).
cv::Mat long_horizontal_runs(const cv::Mat& ink, int min_len) {
    cv::Mat out = cv::Mat::zeros(ink.size(), CV_8UC1);
    for (int y = 0; y < ink.rows; ++y) {
        const uint8_t* in = ink.ptr<uint8_t>(y);
        uint8_t* o = out.ptr<uint8_t>(y);
        int x = 0;
        while (x < ink.cols) {
            if (!in[x]) { ++x; continue; }
            int x0 = x;
            while (x < ink.cols && in[x]) ++x;
            if (x - x0 >= min_len) std::fill(o + x0, o + x, uint8_t(255));
        }
    }
    return out;
}

// Divides out the paper's brightness: a max filter (ink is dark and thinner than the
// window) on a 4x smaller copy, smoothed, is the local paper level. Uneven lighting and
// tinted paper then leave a flat white background for one global threshold; a clean
// or already binary page is unchanged (its paper is 255 everywhere).
cv::Mat flatten_background(const cv::Mat& gray) {
    const int f = 4;
    if (gray.cols < 16 * f || gray.rows < 16 * f) return gray;
    cv::Mat small, bg;
    cv::resize(gray, small, cv::Size(gray.cols / f, gray.rows / f), 0, 0, cv::INTER_AREA);
    // Window: a 30th of the page side, far wider than any stroke or note head at any dpi.
    int k = std::max(5, std::max(small.cols, small.rows) / 30) | 1;
    cv::dilate(small, bg, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(k, k)));
    cv::blur(bg, bg, cv::Size(k, k));
    cv::resize(bg, bg, gray.size(), 0, 0, cv::INTER_LINEAR);
    cv::Mat out, g32, b32;
    gray.convertTo(g32, CV_32F);
    bg.convertTo(b32, CV_32F);
    cv::max(b32, 32.0, b32);  // a black border is not paper: do not blow it up
    cv::divide(g32, b32, g32, 255.0);
    g32.convertTo(out, CV_8U);
    return out;
}

// Staff-line mask tolerant of broken lines: a pixel belongs to a horizontal stroke when
// at least `fill` of a `win`-wide row window around it is ink (after a 3-row dilation
// that absorbs the row-to-row steps of a line that is not exactly level). A thin line
// that scanning and hard thresholding broke into dashes becomes one run again; text and
// noise stay patchy. The result is kept inside the dilated ink.
cv::Mat horizontal_stroke_mask(const cv::Mat& ink, int win, double fill, bool dilate_rows = true) {
    cv::Mat dil, dens, mask;
    if (dilate_rows) cv::dilate(ink, dil, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(1, 3)));
    else dil = ink;
    cv::boxFilter(dil, dens, CV_32F, cv::Size(std::max(3, win) | 1, 1), cv::Point(-1, -1), true, cv::BORDER_CONSTANT);
    cv::compare(dens, 255.0 * fill, mask, cv::CMP_GE);
    return mask;
}

struct LineCand {
    double y = 0;   // centre
    int x0 = 0, x1 = 0;
    int length() const { return x1 - x0; }
};

// Staff line candidates: peaks of the long-run row projection, with the longest
// horizontal extent of each (gaps up to `gap` pixels bridged). A band of strong rows
// taller than a line (a horizontal beam touching a line, two lines run together) is
// split at its own peaks, at least `min_sep` rows apart.
std::vector<LineCand> find_line_candidates(const cv::Mat& runs, int min_count, int gap, int thickness, int min_sep) {
    const int H = runs.rows, W = runs.cols;
    std::vector<int> proj(H);
    for (int y = 0; y < H; ++y) proj[y] = cv::countNonZero(runs.row(y));
    std::vector<int> peaks;
    int y = 0;
    while (y < H) {
        if (proj[y] < min_count) { ++y; continue; }
        int y0 = y;
        while (y < H && proj[y] >= min_count) ++y;
        int y1 = y;  // band [y0, y1)
        if (y1 - y0 <= std::max(3, 2 * thickness + 1)) {
            peaks.push_back(int(std::max_element(proj.begin() + y0, proj.begin() + y1) - proj.begin()));
            continue;
        }
        // Strongest rows first, suppressing neighbours closer than min_sep.
        std::vector<int> order(size_t(y1 - y0));
        std::iota(order.begin(), order.end(), y0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return proj[a] > proj[b]; });
        std::vector<int> picked;
        for (int r : order) {
            bool near = false;
            for (int p : picked) near |= std::abs(p - r) < min_sep;
            if (!near) picked.push_back(r);
        }
        // Keep only real local maxima (not a slope next to a picked peak).
        for (int r : picked) {
            if ((r > y0 && proj[r - 1] > proj[r]) || (r + 1 < y1 && proj[r + 1] > proj[r])) continue;
            peaks.push_back(r);
        }
    }
    std::sort(peaks.begin(), peaks.end());
    std::vector<LineCand> lines;
    std::vector<uint8_t> col(W);
    for (int pk : peaks) {
        // Centre and extent from the rows of this line: the peak and neighbours at least half as strong.
        int r0 = pk, r1 = pk;
        // Every strong row of the line on both sides (the mask is thickened by 2 rows), so
        // the centre is not biased towards the first of several equal rows.
        while (r0 - 1 >= 0 && pk - (r0 - 1) <= thickness + 2 && proj[r0 - 1] * 2 >= proj[pk]) --r0;
        while (r1 + 1 < H && (r1 + 1) - pk <= thickness + 2 && proj[r1 + 1] * 2 >= proj[pk]) ++r1;
        double wsum = 0, ysum = 0;
        for (int r = r0; r <= r1; ++r) {
            wsum += proj[r];
            ysum += double(r) * proj[r];
        }
        // The extent takes every row the line may step through, strong or not.
        std::fill(col.begin(), col.end(), 0);
        for (int r = std::max(0, pk - thickness - 1); r <= std::min(H - 1, pk + thickness + 1); ++r) {
            const uint8_t* p = runs.ptr<uint8_t>(r);
            for (int x = 0; x < W; ++x) col[x] |= p[x];
        }
        LineCand c;
        c.y = ysum / wsum;
        int best_len = 0, x = 0;
        while (x < W) {
            if (!col[x]) { ++x; continue; }
            int s = x, last = x;
            while (x < W && (col[x] || x - last <= gap)) {
                if (col[x]) last = x;
                ++x;
            }
            if (last - s + 1 > best_len) best_len = last - s + 1, c.x0 = s, c.x1 = last;
        }
        lines.push_back(c);
    }
    return lines;
}

double overlap(int a0, int a1, int b0, int b1) { return std::max(0, std::min(a1, b1) - std::max(a0, b0)); }

// Staves: every evenly spaced run of 5 side-by-side line candidates is a hypothesis;
// the most regular ones win, without sharing lines or overlapping in height.
std::vector<Staff> group_staves(const std::vector<LineCand>& lines, double d) {
    struct Chain { double err; std::array<size_t, 5> idx; };
    std::vector<Chain> chains;
    // Hypotheses from a top and a bottom line; the three inner lines must lie near the
    // quarter points between them. Anchoring on both ends keeps one badly centred line
    // (a blurred dash next to a note head) from derailing the spacing estimate.
    for (size_t i = 0; i < lines.size(); ++i) {
        for (size_t j = i + 4; j < lines.size(); ++j) {
            double g = (lines[j].y - lines[i].y) / 4;
            if (g < 0.5 * d) continue;
            if (g > 1.6 * d) break;
            std::array<size_t, 5> idx{i, 0, 0, 0, j};
            double err = 0;
            bool ok = true;
            const double tol = std::max(2.0, 0.25 * g);
            size_t from = i + 1;
            for (int k = 1; k < 4 && ok; ++k) {
                double want = lines[i].y + k * g;
                size_t pick = SIZE_MAX;
                double best = tol;
                for (size_t m = from; m < j && lines[m].y < want + tol + 1; ++m) {
                    double e = std::fabs(lines[m].y - want);
                    if (e <= best) best = e, pick = m;
                }
                if (pick == SIZE_MAX) ok = false;
                else idx[k] = pick, err += best / g, from = pick + 1;
            }
            if (!ok) continue;
            // The five lines must run side by side over similar extents (a beam or a
            // hairpin at the right height is much shorter than the staff), and at least
            // 8 line distances long: no staff is shorter than a clef and a few notes.
            for (int k = 0; k < 5 && ok; ++k)
                for (int m = k + 1; m < 5 && ok; ++m) {
                    const auto& a = lines[idx[k]];
                    const auto& b = lines[idx[m]];
                    double ov = overlap(a.x0, a.x1, b.x0, b.x1);
                    if (ov < 0.5 * std::max(a.length(), b.length()) || ov < 8 * g) ok = false;
                }
            if (!ok) continue;
            // Unequal gaps count against the hypothesis too.
            for (int k = 0; k < 4; ++k) err += std::fabs(lines[idx[k + 1]].y - lines[idx[k]].y - g) / g / 4;
            // So do lines of unequal length: five staff lines run the same way, while a
            // chain shifted by one line onto a beam or a ledger line below does not.
            int lmin = INT32_MAX, lmax = 0;
            for (size_t k : idx) lmin = std::min(lmin, lines[k].length()), lmax = std::max(lmax, lines[k].length());
            err += 1.0 - double(lmin) / std::max(1, lmax);
            chains.push_back({err, idx});
        }
    }
    std::stable_sort(chains.begin(), chains.end(), [](const Chain& a, const Chain& b) { return a.err < b.err; });
    std::vector<bool> used(lines.size(), false);
    std::vector<Staff> staves;
    for (const auto& c : chains) {
        bool free = true;
        for (size_t k : c.idx) free = free && !used[k];
        double top = lines[c.idx[0]].y, bottom = lines[c.idx[4]].y;
        for (const auto& s : staves)
            if (top <= s.line_y[4] && bottom >= s.line_y[0]) free = false;
        if (!free) continue;
        Staff s;
        std::vector<int> x0s, x1s;
        for (int k = 0; k < 5; ++k) {
            s.line_y[k] = lines[c.idx[k]].y;
            x0s.push_back(lines[c.idx[k]].x0);
            x1s.push_back(lines[c.idx[k]].x1);
            used[c.idx[k]] = true;
        }
        std::sort(x0s.begin(), x0s.end());
        std::sort(x1s.begin(), x1s.end());
        s.x0 = x0s[2];
        s.x1 = x1s[2];
        staves.push_back(s);
    }
    std::sort(staves.begin(), staves.end(), [](const Staff& a, const Staff& b) { return a.line_y[0] < b.line_y[0]; });
    return staves;
}

// A real staff is dark along its five lines and mostly light halfway between them;
// text, hatching or noise that happened to form five evenly spaced bands is not.
// `mask` is the stroke mask (dashed lines rejoined); `density` the raw ink share of a
// row window. A staff line is a thin stroke: a third of a space above and below it the
// raw ink is much sparser than on it. A text line is not: one side of its baseline or
// x-height line is the dense body of the letters.
bool staff_is_plausible(const cv::Mat& mask, const cv::Mat& density, const Staff& s, int thickness) {
    const int r = 1 + thickness / 2;
    const int x0 = std::max(0, s.x0), x1 = std::min(mask.cols - 1, s.x1);
    if (x1 <= x0) return false;
    auto coverage = [&](double yc, int radius) {
        int y0 = std::max(0, int(std::lround(yc)) - radius), y1 = std::min(mask.rows - 1, int(std::lround(yc)) + radius);
        int hit = 0;
        for (int x = x0; x <= x1; ++x)
            for (int y = y0; y <= y1; ++y)
                if (mask.at<uint8_t>(y, x)) { ++hit; break; }
        return double(hit) / (x1 - x0 + 1);
    };
    auto row_density = [&](double yc, int radius) {
        int y0 = std::max(0, int(std::lround(yc)) - radius), y1 = std::min(density.rows - 1, int(std::lround(yc)) + radius);
        double sum = 0;
        for (int x = x0; x <= x1; ++x) {
            float m = 0;
            for (int y = y0; y <= y1; ++y) m = std::max(m, density.at<float>(y, x));
            sum += m;
        }
        return sum / (x1 - x0 + 1);
    };
    const int flank = std::max(r + 1, int(std::lround(s.space() / 3)));
    double line_min = 1, line_mean = 0, space_mean = 0, on_line = 0, beside = 0;
    for (int k = 0; k < 5; ++k) {
        double c = coverage(s.line_y[k], r);
        line_min = std::min(line_min, c);
        line_mean += c / 5;
        if (k < 4) space_mean += coverage(0.5 * (s.line_y[k] + s.line_y[k + 1]), 0) / 4;
        on_line += row_density(s.line_y[k], r) / 5;
        beside += std::max(row_density(s.line_y[k] - flank, 0), row_density(s.line_y[k] + flank, 0)) / 5;
    }
    return line_min >= 0.5 && line_mean - space_mean >= 0.35 && on_line >= 2.0 * beside;
}

// True when column x is inked over (almost) the whole gap between the bottom line of `a`
// and the top line of `b` by a stroke (not a blotch).
bool column_joins(const cv::Mat& ink_wide, const Staff& a, const Staff& b, int x) {
    int y0 = int(std::floor(a.line_y[4])), y1 = int(std::ceil(b.line_y[0]));
    if (y1 <= y0) return true;
    if (x < 0 || x >= ink_wide.cols) return false;
    double sp = std::max(a.space(), b.space());
    const int len = y1 - y0 + 1;
    // A thin barline scanned badly breaks into dashes: tolerate short holes (at most
    // a third of a staff space each, a fifth of the gap in all), never a real gap.
    const int allowed_miss = std::max(1, int(0.2 * len));
    const int allowed_hole = std::max(2, int(std::lround(sp / 3)));
    int miss = 0, hole = 0;
    for (int y = y0; y <= y1; ++y) {
        if (ink_wide.at<uint8_t>(y, x)) { hole = 0; continue; }
        ++miss;
        ++hole;
        if (miss > allowed_miss || hole > allowed_hole) return false;
    }
    // A stroke, not a dark blotch (a shadow or a badly thresholded corner): on at
    // least one side, two spaces away, the gap is mostly paper.
    const int off = int(std::lround(2 * sp));
    auto side_ink = [&](int xs) {
        if (xs < 0 || xs >= ink_wide.cols) return 0.0;
        int c = 0;
        for (int y = y0; y <= y1; ++y) c += ink_wide.at<uint8_t>(y, xs) != 0;
        return double(c) / len;
    };
    return std::min(side_ink(x - off), side_ink(x + off)) < 0.5;
}

// One system: some column near the staves' shared extent joins them (a system barline,
// a bracket or a barline drawn through both staves).
bool staves_connected(const cv::Mat& ink_wide, const Staff& a, const Staff& b, int page_x0, int page_x1) {
    double sp = std::max(a.space(), b.space());
    // Where staff lines faded on the left, the system barline or bracket lies further left
    // than what remains; a page border or scanner shadow usually lies further still.
    int x0 = std::max(0, std::min({a.x0, b.x0, page_x0}) - int(6 * sp));
    int x1 = std::min({ink_wide.cols - 1, std::max(a.x1, b.x1), page_x1});
    for (int x = x0; x <= x1; ++x)
        if (column_joins(ink_wide, a, b, x)) {
            spdlog::debug("layout: staves at y {:.1f} and {:.1f} joined at x {}", a.line_y[4], b.line_y[0], x);
            return true;
        }
    return false;
}

// Where each staff group of a system starts (indices into `staves`). The system's start
// is its first columns joining every staff (a brace or bracket that spans them all, then
// the system barline, each within 1.5 spaces of the next). Two neighbouring staves are one
// group when a barline past that start joins them, or when a brace or bracket just left of
// it covers the gap between them. Staff line ends are not trusted for the start: an
// instrument name or a scan's smudge can run a line on to the left.
std::vector<int> staff_group_starts(const cv::Mat& ink_wide, const std::vector<Staff>& staves, int page_x0,
                                    int page_x1) {
    std::vector<int> starts{0};
    if (staves.size() < 2) return starts;
    double sp = 0;
    int x_left = INT32_MAX, x_right = 0;
    for (const auto& st : staves) {
        sp += st.space() / staves.size();
        x_left = std::min(x_left, st.x0);
        x_right = std::max(x_right, st.x1);
    }
    const int hi = std::min({ink_wide.cols - 1, x_right + int(std::lround(sp)), page_x1});
    auto all_join = [&](int x) {
        for (size_t k = 1; k < staves.size(); ++k)
            if (!column_joins(ink_wide, staves[k - 1], staves[k], x)) return false;
        return true;
    };
    int first = -1, start = -1;
    for (int x = std::max(0, std::min(x_left, page_x0) - int(6 * sp)); x <= hi; ++x) {
        if (!all_join(x)) {
            if (first >= 0 && x - start > 1.5 * sp) break;
            continue;
        }
        if (first < 0) first = x;
        start = x;
    }
    if (first < 0) first = start = x_left;  // no system barline found: the lines' start
    const int past = start + int(std::lround(1.5 * sp));
    const int band0 = std::max(0, first - int(std::lround(2.5 * sp))), band1 = start - int(std::lround(0.5 * sp));
    for (size_t k = 1; k < staves.size(); ++k) {
        const Staff& a = staves[k - 1];
        const Staff& b = staves[k];
        bool joined = false;
        for (int x = past; x <= hi && !joined; ++x) joined = column_joins(ink_wide, a, b, x);
        if (!joined && band1 > band0) {
            // A brace or bracket: ink in the band on (almost) every row of the gap.
            int y0 = int(std::ceil(a.line_y[4])) + 1, y1 = int(std::floor(b.line_y[0])) - 1, rows = 0, inked = 0;
            for (int y = std::max(0, y0); y <= std::min(y1, ink_wide.rows - 1); ++y, ++rows)
                inked += cv::countNonZero(ink_wide.row(y).colRange(band0, std::min(band1, ink_wide.cols))) > 0;
            joined = rows > 0 && inked >= 0.9 * rows;
        }
        if (!joined) starts.push_back(int(k));
    }
    return starts;
}

// Row between two systems where the page is emptiest (nearest the middle on ties).
int split_row(const cv::Mat& ink, int y_top, int y_bottom, int x0, int x1) {
    if (y_bottom <= y_top) return (y_top + y_bottom) / 2;
    x0 = std::clamp(x0, 0, ink.cols - 1);
    x1 = std::clamp(x1, x0 + 1, ink.cols);
    int best_y = (y_top + y_bottom) / 2, best = INT32_MAX;
    double mid = 0.5 * (y_top + y_bottom);
    for (int y = y_top; y <= y_bottom; ++y) {
        int c = cv::countNonZero(ink.row(y).colRange(x0, x1));
        if (c < best || (c == best && std::fabs(y - mid) < std::fabs(best_y - mid))) best = c, best_y = y;
    }
    return best_y;
}

// Cut row between two systems (rows y_top..y_bottom): the blank row (at most blank_max
// ink pixels: scan noise does not count) nearest the middle, else the emptiest row at
// least `keep` rows from both staves.
int split_between(const cv::Mat& ink, int y_top, int y_bottom, int x0, int x1, int blank_max, int keep) {
    if (y_bottom <= y_top) return (y_top + y_bottom) / 2;
    x0 = std::clamp(x0, 0, ink.cols - 1);
    x1 = std::clamp(x1, x0 + 1, ink.cols);
    const double mid = 0.5 * (y_top + y_bottom);
    int best = -1;
    for (int y = y_top; y <= y_bottom; ++y)
        if (cv::countNonZero(ink.row(y).colRange(x0, x1)) <= blank_max && (best < 0 || std::fabs(y - mid) < std::fabs(best - mid)))
            best = y;
    if (best >= 0) return best;
    return split_row(ink, y_top + keep, y_bottom - keep, x0, x1);
}

}  // namespace

double estimate_skew_deg(const cv::Mat& ink, double max_deg) {
    std::vector<cv::Point> pts;
    cv::findNonZero(ink, pts);
    if (pts.size() < 100 || max_deg <= 0) return 0.0;
    // A few hundred thousand points fix the angle as well as millions do.
    size_t stride = std::max<size_t>(1, pts.size() / 400000);
    std::vector<cv::Point> sample;
    for (size_t i = 0; i < pts.size(); i += stride) sample.push_back(pts[i]);
    const double cx = ink.cols / 2.0;
    const int margin = int(std::ceil(ink.cols * std::tan(max_deg * kPi / 180.0))) + 2;
    std::vector<int> hist(size_t(ink.rows + 2 * margin + 2));
    auto score = [&](double deg) {
        std::fill(hist.begin(), hist.end(), 0);
        double t = std::tan(deg * kPi / 180.0);
        for (const auto& p : sample) {
            int yy = int(std::lround(p.y - (p.x - cx) * t)) + margin;
            if (yy >= 0 && yy < int(hist.size())) hist[size_t(yy)]++;
        }
        double s = 0;
        for (int h : hist) s += double(h) * h;
        return s;
    };
    // Coarse steps drift about 2 px across the page; then a tenth of that.
    double step = std::max(0.01, std::atan(2.0 / ink.cols) * 180.0 / kPi);
    double best = 0, best_s = -1;
    const int k_max = int(std::floor(max_deg / step));
    for (int k = -k_max; k <= k_max; ++k) {  // symmetric grid: an upright page scores 0 exactly
        double a = k * step;
        double s = score(a);
        if (s > best_s) best_s = s, best = a;
    }
    double center = best;
    for (int k = -9; k <= 9; ++k) {
        if (k == 0) continue;
        double a = center + k * step / 10;
        double s = score(a);
        if (s > best_s) best_s = s, best = a;
    }
    return best;
}

cv::Mat normalize_system(const cv::Mat& crop, double staff_height_px, const LayoutOptions& opts) {
    cv::Mat img = crop;
    if (opts.normalize && staff_height_px > 0) {
        double scale = opts.staff_height_px / staff_height_px;
        cv::Mat r;
        cv::resize(crop, r, cv::Size(), scale, scale, scale < 1.0 ? cv::INTER_AREA : cv::INTER_CUBIC);
        img = r;
    } else {
        img = crop.clone();
    }
    // Whiten: stretch so the paper (median of the light pixels) becomes 255, then clear
    // what is closer to paper than to the ink threshold (scan grain, faint show-through).
    cv::Mat ink_mask;
    double thr = cv::threshold(img, ink_mask, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
    std::vector<uint8_t> light;
    light.reserve(img.total());
    for (auto it = img.begin<uint8_t>(); it != img.end<uint8_t>(); ++it)
        if (*it > thr) light.push_back(*it);
    double paper = 255;
    if (!light.empty()) {
        std::nth_element(light.begin(), light.begin() + light.size() / 2, light.end());
        paper = std::max<double>(light[light.size() / 2], thr + 1);
    }
    cv::Mat out;
    img.convertTo(out, CV_8U, 255.0 / paper);
    double cut = (thr * 255.0 / paper + 255.0) / 2.0;
    out.setTo(255, out >= cut);
    if (opts.pad_multiple > 1) {
        int m = opts.pad_multiple;
        int W = (out.cols + m - 1) / m * m, H = (out.rows + m - 1) / m * m;
        int top = (H - out.rows) / 2;
        // Vertical padding is split so the staves stay centred; horizontal goes to the right.
        cv::copyMakeBorder(out, out, top, H - out.rows - top, 0, W - out.cols, cv::BORDER_CONSTANT, cv::Scalar(255));
    }
    return out;
}

cv::Mat band_system(const cv::Mat& crop, int crop_y, const std::vector<Staff>& staves, double staff_height_px,
                    const LayoutOptions& opts) {
    if (opts.staff_bands <= 0 || !opts.normalize || staff_height_px <= 0 || staves.empty())
        throw Error("internal: band_system needs staff_bands > 0, normalization and staves");
    LayoutOptions flat = opts;
    flat.pad_multiple = 1;
    cv::Mat img = normalize_system(crop, staff_height_px, flat);
    const double scale = opts.staff_height_px / staff_height_px;
    const int above = int(std::lround(opts.staff_bands * opts.staff_height_px / 4.0));
    const int band = opts.staff_height_px + 2 * above;
    // A line's centre in the scaled crop (pixel centres map as cv::resize maps them).
    auto row_of = [&](double page_y) { return (page_y - crop_y + 0.5) * scale - 0.5; };
    // Between two staves the ink is shared out at the emptiest row within a staff space of the
    // middle, so that nothing is drawn twice (a note between the staves belongs to one band).
    std::vector<int> cuts;
    const double sp = opts.staff_height_px / 4.0;
    for (size_t k = 0; k + 1 < staves.size(); ++k) {
        double mid = 0.5 * (row_of(staves[k].line_y[4]) + row_of(staves[k + 1].line_y[0]));
        int lo = std::clamp(int(std::floor(mid - sp)), 0, img.rows - 1), hi = std::clamp(int(std::ceil(mid + sp)), 0, img.rows - 1);
        int best = std::clamp(int(std::lround(mid)), 0, img.rows - 1), best_ink = INT32_MAX;
        for (int y = lo; y <= hi; ++y) {
            int ink = cv::countNonZero(img.row(y) < 128);
            if (ink < best_ink || (ink == best_ink && std::abs(y - mid) < std::abs(best - mid))) best_ink = ink, best = y;
        }
        cuts.push_back(best);
    }
    cv::Mat out(band * int(staves.size()), img.cols, CV_8UC1, cv::Scalar(255));
    for (size_t k = 0; k < staves.size(); ++k) {
        int y0 = int(std::lround(row_of(staves[k].line_y[0]))) - above;
        int a = std::max({0, y0, k > 0 ? cuts[k - 1] : 0});
        int b = std::min({img.rows, y0 + band, k + 1 < staves.size() ? cuts[k] : img.rows});
        if (b > a) img.rowRange(a, b).copyTo(out(cv::Rect(0, int(k) * band + (a - y0), img.cols, b - a)));
    }
    if (opts.pad_multiple > 1) {
        int m = opts.pad_multiple;
        cv::copyMakeBorder(out, out, 0, (m - out.rows % m) % m, 0, (m - out.cols % m) % m, cv::BORDER_CONSTANT,
                           cv::Scalar(255));
    }
    return out;
}

PageLayout analyze_page(const cv::Mat& gray_in, const LayoutOptions& opts) {
    PageLayout page;
    if (gray_in.empty()) return page;
    cv::Mat gray = gray_in;
    if (gray.type() != CV_8UC1) {
        cv::Mat g;
        if (gray.channels() == 3) cv::cvtColor(gray, g, cv::COLOR_BGR2GRAY);
        else gray.convertTo(g, CV_8U);
        gray = g;
    }
    cv::Scalar mean, stddev;
    cv::meanStdDev(gray, mean, stddev);
    if (stddev[0] < 2.0) return page;  // blank: Otsu would split pure noise
    gray = flatten_background(gray);
    cv::Mat ink;
    double otsu = cv::threshold(gray, ink, 0, 255, cv::THRESH_BINARY_INV | cv::THRESH_OTSU);
    // Ink is the minority: a threshold making most of the page "ink" means no paper was found.
    if (cv::countNonZero(ink) > 0.5 * ink.total()) return page;
    // Otsu's midpoint loses thin lines: a 0.8 px staff line rendered across two pixel rows
    // leaves both rows only half dark. Counting pixels 70% of the way from ink to paper as
    // ink keeps them, and stays well clear of paper grain.
    double ink_level = cv::mean(gray, ink)[0];
    cv::Mat paper_mask;
    cv::bitwise_not(ink, paper_mask);
    double paper_level = cv::mean(gray, paper_mask)[0];
    double thr = std::max(otsu, ink_level + 0.7 * (paper_level - ink_level));
    cv::threshold(gray, ink, thr, 255, cv::THRESH_BINARY_INV);
    if (cv::countNonZero(ink) > 0.5 * ink.total()) return page;

    RunStats rs = vertical_run_stats(ink);
    if (rs.distance < 4) return page;
    // Skew from the horizontal strokes only (stems and text blur the projection). A line
    // of thickness t tilted 3 degrees still has runs of ~19 t, longer than one line distance.
    // The stroke mask first rejoins staff lines that a poor scan or a hard binarization
    // broke into dashes.
    cv::Mat strokes = long_horizontal_runs(horizontal_stroke_mask(ink, rs.distance, kStrokeFill, false), std::max(4, rs.distance));
    if (cv::countNonZero(strokes) < 1000) strokes = ink;
    page.skew_deg = estimate_skew_deg(strokes, opts.max_skew_deg);
    cv::Mat rotation;
    if (std::fabs(page.skew_deg) > 0.02) {
        cv::Point2f c(gray.cols / 2.0f, gray.rows / 2.0f);
        rotation = cv::getRotationMatrix2D(c, page.skew_deg, 1.0);
        cv::Mat rot;
        cv::warpAffine(gray, rot, rotation, gray.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(255));
        gray = rot;
        cv::threshold(gray, ink, thr, 255, cv::THRESH_BINARY_INV);
        rs = vertical_run_stats(ink);
    }
    page.line_thickness_px = rs.thickness;
    page.line_distance_px = rs.distance;
    const double d = rs.distance;

    cv::Mat density;
    cv::boxFilter(ink, density, CV_32F, cv::Size(std::max(3, 2 * rs.distance) | 1, 1), cv::Point(-1, -1), true, cv::BORDER_CONSTANT);
    density /= 255.0;
    const int min_count = std::max(int(5 * d), gray.cols / 20);
    // From strict to tolerant stroke masks: solid lines are found by the first; lines that
    // a scan broke into sparse dashes only by the later ones. The setting that finds the
    // most plausible staves wins (the strictest on ties): every staff must pass the same
    // regularity and plausibility checks, so a tolerant mask cannot add text or noise.
    struct Setting { double win, fill; };
    std::vector<LineCand> lines;
    cv::Mat line_mask;
    bool first = true;
    for (Setting st : {Setting{2.0, kStrokeFill}, Setting{3.0, 0.2}, Setting{3.0, 0.15}, Setting{4.0, 0.1}}) {
        cv::Mat mask = horizontal_stroke_mask(ink, int(st.win * rs.distance), st.fill);
        cv::Mat runs = long_horizontal_runs(mask, std::max(8, int(3 * d)));
        auto cand = find_line_candidates(runs, min_count, int(kGapLines * d), std::max(1, rs.thickness), std::max(2, int(0.6 * d)));
        auto staves = group_staves(cand, d);
        staves.erase(std::remove_if(staves.begin(), staves.end(),
                                    [&](const Staff& sf) {
                                        bool ok = staff_is_plausible(mask, density, sf, rs.thickness);
                                        if (!ok) spdlog::debug("layout: implausible staff at y {:.1f}..{:.1f}", sf.line_y[0], sf.line_y[4]);
                                        return !ok;
                                    }),
                     staves.end());
        spdlog::debug("layout: stroke window {} d, fill {}: {} staves", st.win, st.fill, staves.size());
        if (first || staves.size() > page.staves.size()) {
            page.staves = std::move(staves);
            lines = std::move(cand);
            line_mask = mask;
        }
        first = false;
    }
    if (spdlog::should_log(spdlog::level::debug)) {
        std::string msg;
        for (const auto& l : lines) msg += fmt::format(" {:.1f}[{}-{}]", l.y, l.x0, l.x1);
        spdlog::debug("layout: skew {:.3f} deg, line {} px, distance {} px, {} line candidates:{}", page.skew_deg,
                      rs.thickness, rs.distance, lines.size(), msg);
        for (const auto& s : page.staves) spdlog::debug("layout: staff at y {:.1f}..{:.1f}, x {}..{}", s.line_y[0], s.line_y[4], s.x0, s.x1);
    }
    // A stack of ledger lines continues a staff's rhythm a space or two below/above it and
    // can pass every test of a staff. Two real staves never sit that close: of such a
    // pair the shorter one is the ledger stack.
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i + 1 < page.staves.size() && !changed; ++i) {
            const Staff& a = page.staves[i];
            const Staff& b = page.staves[i + 1];
            double sp = 0.5 * (a.space() + b.space());
            if (b.line_y[0] - a.line_y[4] >= 2.5 * sp) continue;
            size_t drop = (a.x1 - a.x0) < (b.x1 - b.x0) ? i : i + 1;
            spdlog::debug("layout: staff at y {:.1f} dropped as ledger lines", page.staves[drop].line_y[0]);
            page.staves.erase(page.staves.begin() + long(drop));
            changed = true;
        }
    }
    if (page.staves.empty()) return page;
    // Page-wide horizontal extent: a staff whose lines survived only in part (a faded
    // scan) still belongs to the page's column of staves.
    // A line running on into a dark smudge or the page edge must not widen it much: the
    // right end stays within 2 spaces of the median staff's.
    int page_x0 = INT32_MAX, page_x1 = 0;
    std::vector<int> ends;
    double page_sp = 0;
    for (const auto& st : page.staves) {
        page_x0 = std::min(page_x0, st.x0), page_x1 = std::max(page_x1, st.x1);
        ends.push_back(st.x1);
        page_sp += st.space() / page.staves.size();
    }
    std::nth_element(ends.begin(), ends.begin() + ends.size() / 2, ends.end());
    page_x1 = std::min(page_x1, ends[ends.size() / 2] + int(2 * page_sp));

    // Systems: consecutive staves joined by a vertical stroke. A 3-px wide ink mask
    // absorbs the sub-pixel lean left after deskewing.
    cv::Mat ink_wide;
    cv::dilate(ink, ink_wide, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 1)));
    std::vector<std::vector<Staff>> groups{{page.staves[0]}};
    for (size_t i = 1; i < page.staves.size(); ++i) {
        if (staves_connected(ink_wide, groups.back().back(), page.staves[i], page_x0, page_x1)) groups.back().push_back(page.staves[i]);
        else groups.push_back({page.staves[i]});
    }

    // Vertical limits: the emptiest row between neighbouring systems, at most
    // margin_spaces staff spaces from the outer lines.
    const int n = int(groups.size());
    std::vector<int> top(n), bottom(n);
    for (int i = 0; i < n; ++i) {
        double sp = 0;
        for (const auto& s : groups[i]) sp += s.space();
        sp /= groups[i].size();
        int cap = int(std::lround(opts.margin_spaces * sp));
        top[i] = int(std::floor(groups[i].front().line_y[0])) - cap;
        bottom[i] = int(std::ceil(groups[i].back().line_y[4])) + cap;
    }
    // Between systems the whole space is shared out (tuplet numbers, ledger lines, pedal
    // marks and dynamics below a staff can reach far): the cut goes through the middle
    // of the widest blank band, or the emptiest row if there is none.
    const int blank_max = std::max(2, (page_x1 - page_x0) / 500);  // a few specks of noise
    for (int i = 0; i + 1 < n; ++i) {
        int yb = int(std::ceil(groups[i].back().line_y[4])), yt = int(std::floor(groups[i + 1].front().line_y[0]));
        int s = split_between(ink, yb + 1, yt - 1, page_x0, page_x1, blank_max, int(d));
        bottom[i] = s;
        top[i + 1] = s;
    }
    // Above the first and below the last system nothing bounds the crop: the margin is
    // margin_spaces, widened to take in ink up to 1.5 times as far (a tuplet number, a
    // pedal mark under ledger lines) and then on to the next blank row, at most twice as far.
    auto blank_row = [&](int y) {
        return y < 0 || y >= ink.rows ||
               cv::countNonZero(ink.row(y).colRange(std::clamp(page_x0, 0, ink.cols - 1), std::clamp(page_x1, 1, ink.cols))) <= blank_max;
    };
    {
        double sp = groups[0].front().space();
        double edge = groups[0].front().line_y[0];
        int reach = int(std::floor(edge - 1.5 * opts.margin_spaces * sp)), limit = int(std::floor(edge - 2 * opts.margin_spaces * sp));
        for (int y = top[0]; y >= reach; --y)
            if (!blank_row(y)) top[0] = y;
        while (top[0] > limit && !blank_row(top[0])) --top[0];
        sp = groups[n - 1].back().space();
        edge = groups[n - 1].back().line_y[4];
        reach = int(std::ceil(edge + 1.5 * opts.margin_spaces * sp)), limit = int(std::ceil(edge + 2 * opts.margin_spaces * sp));
        for (int y = bottom[n - 1]; y <= reach; ++y)
            if (!blank_row(y)) bottom[n - 1] = y;
        while (bottom[n - 1] < limit && !blank_row(bottom[n - 1])) ++bottom[n - 1];
    }

    cv::Mat inverse;
    if (!rotation.empty()) cv::invertAffineTransform(rotation, inverse);
    for (int i = 0; i < n; ++i) {
        SystemCrop sc;
        sc.staves = groups[i];
        double h = 0, sp = 0;
        int x0 = INT32_MAX, x1 = 0;
        for (const auto& s : sc.staves) h += s.height();
        // The page's column of staves: a system whose lines were found only in part is
        // still cut whole, and every crop of a page has the same width.
        x0 = page_x0;
        x1 = page_x1;
        sc.staff_height_px = h / sc.staves.size();
        sp = sc.staff_height_px / 4.0;
        // Left: room for a brace or bracket; right: the final barline's thickness.
        int left = std::max(0, x0 - int(std::lround(2.5 * sp)));
        int right = std::min(gray.cols, x1 + int(std::lround(0.75 * sp)) + 1);
        int t = std::clamp(top[i], 0, gray.rows - 1), b = std::clamp(bottom[i], t + 1, gray.rows);
        sc.box = cv::Rect(left, t, right - left, b - t);
        sc.skew_deg = page.skew_deg;
        std::array<cv::Point2d, 4> pts{cv::Point2d(sc.box.x, sc.box.y), cv::Point2d(sc.box.x + sc.box.width, sc.box.y),
                                       cv::Point2d(sc.box.x + sc.box.width, sc.box.y + sc.box.height),
                                       cv::Point2d(sc.box.x, sc.box.y + sc.box.height)};
        for (int k = 0; k < 4; ++k) {
            if (inverse.empty()) { sc.corners[k] = pts[k]; continue; }
            const double* r0 = inverse.ptr<double>(0);
            const double* r1 = inverse.ptr<double>(1);
            sc.corners[k] = {r0[0] * pts[k].x + r0[1] * pts[k].y + r0[2], r1[0] * pts[k].x + r1[1] * pts[k].y + r1[2]};
        }
        sc.scale = opts.normalize ? opts.staff_height_px / sc.staff_height_px : 1.0;
        const bool bands = opts.staff_bands > 0 && opts.normalize;
        sc.image = bands ? band_system(gray(sc.box), sc.box.y, sc.staves, sc.staff_height_px, opts)
                         : normalize_system(gray(sc.box), sc.staff_height_px, opts);
        // Staff groups, cut between them like systems are cut.
        std::vector<int> starts = staff_group_starts(ink_wide, sc.staves, page_x0, page_x1);
        starts.push_back(int(sc.staves.size()));
        int cut = sc.box.y;
        for (size_t g = 0; g + 1 < starts.size(); ++g) {
            StaffGroup grp;
            grp.first = starts[g];
            grp.count = starts[g + 1] - starts[g];
            int end = sc.box.y + sc.box.height;
            if (g + 2 < starts.size()) {
                const Staff& above = sc.staves[size_t(starts[g + 1] - 1)];
                const Staff& below = sc.staves[size_t(starts[g + 1])];
                int yb = int(std::ceil(above.line_y[4])), yt = int(std::floor(below.line_y[0]));
                end = split_between(ink, yb + 1, yt - 1, page_x0, page_x1, blank_max, int(d));
            }
            grp.box = cv::Rect(sc.box.x, cut, sc.box.width, std::max(1, end - cut));
            cut = end;
            if (starts.size() == 2) {
                grp.image = sc.image;
            } else {
                double gh = 0;
                for (int k = grp.first; k < grp.first + grp.count; ++k) gh += sc.staves[size_t(k)].height();
                grp.image = bands ? band_system(gray(grp.box), grp.box.y,
                                                std::vector<Staff>(sc.staves.begin() + grp.first,
                                                                   sc.staves.begin() + grp.first + grp.count),
                                                gh / grp.count, opts)
                                  : normalize_system(gray(grp.box), gh / grp.count, opts);
            }
            sc.groups.push_back(std::move(grp));
        }
        page.systems.push_back(std::move(sc));
    }
    return page;
}

std::vector<SystemCrop> detect_systems(const cv::Mat& gray, const LayoutOptions& opts) {
    return analyze_page(gray, opts).systems;
}

cv::Mat stack_page(const std::vector<cv::Mat>& systems, int gap_px) {
    if (systems.empty()) throw Error("no systems to put on a page");
    int width = 0, height = 0;
    for (const auto& s : systems) {
        width = std::max(width, s.cols);
        height += s.rows;
    }
    height += gap_px * int(systems.size() - 1);
    cv::Mat page(height, width, CV_8UC1, cv::Scalar(255));
    int y = 0;
    for (const auto& s : systems) {
        s.copyTo(page(cv::Rect(0, y, s.cols, s.rows)));
        y += s.rows + gap_px;
    }
    return page;
}

}  // namespace umt::layout
