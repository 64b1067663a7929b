// Page layout analysis: page image -> staves -> systems, and system crops normalized
// to a fixed staff height for the image models.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace umt::layout {

struct LayoutOptions {
    int staff_height_px = 18;       // top-to-bottom staff line distance in the normalized crop
    double max_skew_deg = 3.0;      // deskew search range (+/-)
    double margin_spaces = 6.0;     // margin above the first / below the last system of a page, staff
                                    // spaces; widened (up to 2x) so ink near the edge is not cut.
                                    // Between systems the cut is the blank row nearest the middle.
    int pad_multiple = 16;          // normalized crops are padded (white) to multiples of this
    bool normalize = true;          // false: SystemCrop::image is the unscaled page crop
    int staff_bands = 0;            // > 0 (with normalize): the band layout, see band_system
};

struct Staff {
    std::array<double, 5> line_y{};  // line centres, top to bottom (deskewed page pixels)
    int x0 = 0, x1 = 0;              // horizontal extent of the lines
    double height() const { return line_y[4] - line_y[0]; }
    double space() const { return height() / 4.0; }
};

// Staves of one system that belong together (one instrument, one part): joined by barlines
// past the system's start, as engravers join a piano's grand staff or a choir's bracket and
// leave a voice staff on its own.
struct StaffGroup {
    int first = 0, count = 0;         // SystemCrop::staves[first, first + count)
    cv::Rect box;                     // crop in deskewed page pixels (the system's width)
    cv::Mat image;                    // normalized crop, as SystemCrop::image
};

struct SystemCrop {
    cv::Rect box;                     // crop in deskewed page pixels
    std::array<cv::Point2d, 4> corners{};  // the box's corners in original page pixels (tl, tr, br, bl)
    std::vector<Staff> staves;        // top to bottom
    double staff_height_px = 0.0;     // measured on the page: mean top-to-bottom line distance
    double skew_deg = 0.0;            // page rotation that was undone
    double scale = 1.0;               // normalized / page pixels
    cv::Mat image;                    // normalized crop (CV_8UC1), see LayoutOptions
    std::vector<StaffGroup> groups;   // top to bottom; one group = the whole system
};

struct PageLayout {
    double skew_deg = 0.0;
    double line_thickness_px = 0.0;   // most common vertical black run
    double line_distance_px = 0.0;    // most common black + white run (staff space + line)
    std::vector<Staff> staves;
    std::vector<SystemCrop> systems;  // top to bottom
};

// Systems stacked top to bottom on a white page as wide as the widest, with gap_px between them
// (the inverse of the split: generated systems back onto one page). Throws umt::Error when empty.
cv::Mat stack_page(const std::vector<cv::Mat>& systems, int gap_px = 16);

// Full analysis of one page (8-bit gray, white background). A page without staves
// gives an empty result, not an error.
PageLayout analyze_page(const cv::Mat& gray, const LayoutOptions& opts = {});

// The system crops of a page (analyze_page(...).systems).
std::vector<SystemCrop> detect_systems(const cv::Mat& gray, const LayoutOptions& opts = {});

// Scales a page crop so that staff_height_px becomes opts.staff_height_px, whitens the
// background and pads to opts.pad_multiple. Exposed for single-system inputs.
cv::Mat normalize_system(const cv::Mat& crop, double staff_height_px, const LayoutOptions& opts = {});

// The band layout (LayoutOptions::staff_bands = b > 0): the crop normalized as normalize_system
// does, then every staff cut into a band of its own, b staff spaces above its top line to b below
// its bottom line (white where the crop ends; between two staves the ink is shared out at the
// emptiest row near the middle, so nothing is drawn twice), the bands stacked top to bottom and padded to
// opts.pad_multiple. Each staff's top line lands on row b * staff_height_px / 4 of its band, so a
// row of the image is a staff position whatever the engraving's staff distance and margins.
// staves: the crop's staves in page pixels; crop_y: the crop's top row on the page.
cv::Mat band_system(const cv::Mat& crop, int crop_y, const std::vector<Staff>& staves, double staff_height_px,
                    const LayoutOptions& opts);

// Estimated rotation (degrees) of the staff lines of a binary ink mask (255 = ink);
// positive when lines descend to the right.
double estimate_skew_deg(const cv::Mat& ink, double max_deg);

}  // namespace umt::layout
