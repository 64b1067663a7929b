// Image and PDF page input through OpenCV and poppler-cpp, always to 8-bit gray on white.
#include "umt/io/image.hpp"

#include <cmath>
#include <cstdint>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <poppler-document.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>
#include <spdlog/spdlog.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"

namespace umt {

namespace {

std::string display_name(const std::string& source) { return source == "-" ? "<stdin>" : source; }

bool looks_like_pdf(const std::string& bytes) {
    // The PDF spec allows junk before the header within the first 1024 bytes.
    return bytes.substr(0, 1024).find("%PDF-") != std::string::npos;
}

void check_size(double width, double height, const std::string& source, const ImageReadOptions& opts) {
    if (width < 1 || height < 1) throw Error(display_name(source), "image has zero size");
    double mpx = width * height / 1e6;
    if (mpx > opts.max_megapixels)
        throw Error(display_name(source), "image is too large (" + std::to_string(int64_t(width)) + "x" +
                                              std::to_string(int64_t(height)) + " = " + std::to_string(int(mpx)) +
                                              " Mpx, the limit is " + std::to_string(int(opts.max_megapixels)) + " Mpx)");
}

// Composites colour/alpha images of any depth onto white and returns 8-bit luma.
cv::Mat to_gray_on_white(const cv::Mat& img) {
    cv::Mat m = img;
    if (m.depth() != CV_8U) {
        cv::Mat c;
        double scale = m.depth() == CV_16U ? 1.0 / 257.0 : m.depth() == CV_32F || m.depth() == CV_64F ? 255.0 : 1.0;
        m.convertTo(c, CV_8U, scale);
        m = c;
    }
    cv::Mat gray;
    switch (m.channels()) {
        case 1: gray = m.clone(); break;
        case 3: cv::cvtColor(m, gray, cv::COLOR_BGR2GRAY); break;
        case 2:
        case 4: {
            std::vector<cv::Mat> ch;
            cv::split(m, ch);
            cv::Mat luma, alpha = ch.back();
            if (m.channels() == 4) {
                cv::Mat bgr;
                cv::merge(std::vector<cv::Mat>{ch[0], ch[1], ch[2]}, bgr);
                cv::cvtColor(bgr, luma, cv::COLOR_BGR2GRAY);
            } else {
                luma = ch[0];
            }
            cv::Mat l, a, out;
            luma.convertTo(l, CV_32F);
            alpha.convertTo(a, CV_32F, 1.0 / 255.0);
            out = l.mul(a) + (1.0 - a) * 255.0;
            out.convertTo(gray, CV_8U);
            break;
        }
        default: throw Error("image has an unsupported channel count " + std::to_string(m.channels()));
    }
    return gray;
}

// Reads width/height from a PNG's IHDR so a decompression bomb is refused before decoding.
bool png_dimensions(const std::string& b, uint32_t& w, uint32_t& h) {
    if (b.size() < 24 || b.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0 || b.compare(12, 4, "IHDR") != 0) return false;
    auto be32 = [&](size_t i) {
        return (uint32_t(uint8_t(b[i])) << 24) | (uint32_t(uint8_t(b[i + 1])) << 16) | (uint32_t(uint8_t(b[i + 2])) << 8) |
               uint32_t(uint8_t(b[i + 3]));
    };
    w = be32(16);
    h = be32(20);
    return true;
}

cv::Mat render_pdf_page(poppler::document& doc, int index, const std::string& source, const ImageReadOptions& opts) {
    std::unique_ptr<poppler::page> page(doc.create_page(index));
    if (!page) throw Error(display_name(source), "PDF page " + std::to_string(index + 1) + " cannot be read");
    poppler::rectf box = page->page_rect(poppler::media_box);
    double w_px = box.width() / 72.0 * opts.pdf_dpi, h_px = box.height() / 72.0 * opts.pdf_dpi;
    check_size(std::round(w_px), std::round(h_px), source + " page " + std::to_string(index + 1), opts);
    poppler::page_renderer renderer;
    renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
    renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
    renderer.set_image_format(poppler::image::format_argb32);
    renderer.set_paper_color(0xffffffff);
    poppler::image img = renderer.render_page(page.get(), opts.pdf_dpi, opts.pdf_dpi);
    if (!img.is_valid() || img.width() <= 0 || img.height() <= 0)
        throw Error(display_name(source), "PDF page " + std::to_string(index + 1) + " could not be rendered");
    // argb32 is stored as native-endian 32-bit words: B, G, R, A bytes on little-endian.
    cv::Mat bgra(img.height(), img.width(), CV_8UC4, const_cast<char*>(img.const_data()), size_t(img.bytes_per_row()));
    return to_gray_on_white(bgra);
}

}  // namespace

const std::vector<std::string>& image_read_extensions() {
    static const std::vector<std::string> exts{"png", "jpg", "jpeg", "tif", "tiff", "bmp", "pdf"};
    return exts;
}

cv::Mat decode_gray_image(const std::string& bytes, const std::string& source, const ImageReadOptions& opts) {
    if (bytes.empty()) throw Error(display_name(source), "file is empty");
    uint32_t w = 0, h = 0;
    if (png_dimensions(bytes, w, h)) check_size(w, h, source, opts);
    cv::Mat raw;
    try {
        raw = cv::imdecode(cv::Mat(1, int(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data())), cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {
        throw Error(display_name(source), std::string("cannot decode image: ") + e.what());
    }
    if (raw.empty()) throw Error(display_name(source), "not a readable image (PNG, JPEG, TIFF or BMP expected), or the file is damaged");
    check_size(raw.cols, raw.rows, source, opts);
    return to_gray_on_white(raw);
}

std::vector<PageImage> read_pages(const std::string& path, const ImageReadOptions& opts) {
    if (opts.pdf_dpi < 10 || opts.pdf_dpi > 1200)
        throw Error(display_name(path), "PDF dpi must be within 10..1200, got " + std::to_string(opts.pdf_dpi));
    std::string bytes = read_file(path);
    std::vector<PageImage> pages;
    if (!looks_like_pdf(bytes)) {
        pages.push_back({path, 1, decode_gray_image(bytes, path, opts)});
        return pages;
    }
    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(bytes.data(), int(bytes.size())));
    if (!doc) throw Error(display_name(path), "not a readable PDF (damaged or not a PDF)");
    if (doc->is_locked()) throw Error(display_name(path), "PDF is password-protected");
    int n = doc->pages();
    if (n <= 0) throw Error(display_name(path), "PDF has no pages");
    for (int i = 0; i < n; ++i) pages.push_back({path, i + 1, render_pdf_page(*doc, i, path, opts)});
    return pages;
}

cv::Mat read_gray_image(const std::string& path, int page, const ImageReadOptions& opts) {
    std::string bytes = read_file(path);
    if (!looks_like_pdf(bytes)) {
        if (page != 1) throw Error(display_name(path), "an image file has only page 1");
        return decode_gray_image(bytes, path, opts);
    }
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(bytes.data(), int(bytes.size())));
    if (!doc) throw Error(display_name(path), "not a readable PDF (damaged or not a PDF)");
    if (doc->is_locked()) throw Error(display_name(path), "PDF is password-protected");
    if (doc->pages() <= 0) throw Error(display_name(path), "PDF has no pages");
    if (page < 1 || page > doc->pages())
        throw Error(display_name(path), "PDF has " + std::to_string(doc->pages()) + " pages, no page " + std::to_string(page));
    return render_pdf_page(*doc, page - 1, path, opts);
}

void write_image(const cv::Mat& image, const std::string& path) {
    if (image.empty()) throw Error(path, "refusing to write an empty image");
    write_via_temp(path, [&](const std::string& tmp) {
        bool ok = false;
        try {
            ok = cv::imwrite(tmp, image);
        } catch (const cv::Exception& e) {
            throw Error(path, std::string("cannot write image: ") + e.what());
        }
        if (!ok) throw Error(path, "cannot write image (unknown extension or write error)");
    }, "png");
}

}  // namespace umt
