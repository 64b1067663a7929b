// Page and score images: PNG/JPEG/TIFF/BMP (OpenCV) and PDF pages (poppler) -> 8-bit grayscale.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace umt {

struct ImageReadOptions {
    // PDF rasterization. 150 dpi gives a printed 7 mm staff ~41 px, i.e. ~10 px per
    // staff space: above what staff detection needs, and a 2.3x reduction to the
    // 18 px model staff height, so no detail is invented by upscaling.
    int pdf_dpi = 150;
    // Larger images are refused: 200 Mpx is an A0 sheet at 600 dpi, beyond any score scan.
    double max_megapixels = 200.0;
};

struct PageImage {
    std::string source;  // file it came from
    int page = 1;        // 1-based page number inside the file (1 for image files)
    cv::Mat gray;        // CV_8UC1, white background
};

// Extensions read_pages accepts (lower case, no dot).
const std::vector<std::string>& image_read_extensions();

// Reads every page of an image or PDF file ("-" = stdin; the format is sniffed from
// the bytes). Transparent pixels are composited on white; colour -> luma.
// Throws umt::Error naming the file when it is unreadable, empty, zero-size, too large,
// or a PDF with no pages.
std::vector<PageImage> read_pages(const std::string& path, const ImageReadOptions& opts = {});

// The single image of an image file, or page `page` of a PDF.
cv::Mat read_gray_image(const std::string& path, int page = 1, const ImageReadOptions& opts = {});

// Decodes image bytes (not PDF) to gray; `source` names them in errors.
cv::Mat decode_gray_image(const std::string& bytes, const std::string& source, const ImageReadOptions& opts = {});

// Writes a gray or colour image as PNG (or any OpenCV format by extension), atomically.
void write_image(const cv::Mat& image, const std::string& path);

}  // namespace umt
