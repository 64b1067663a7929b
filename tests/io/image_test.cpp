// Image and PDF input: formats, alpha on white, PDF pages at a dpi, damaged and absurd inputs.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "umt/core/error.hpp"
#include "umt/io/image.hpp"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
    fs::path d = fs::temp_directory_path() / ("umt-image-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// A minimal PDF with correct xref offsets; each page content is a PDF content stream.
std::string make_pdf(const std::vector<std::string>& page_contents, int width_pt, int height_pt) {
    std::vector<std::string> objs;
    std::string kids;
    int n = int(page_contents.size());
    for (int i = 0; i < n; ++i) kids += std::to_string(3 + 2 * i) + " 0 R ";
    objs.push_back("<< /Type /Catalog /Pages 2 0 R >>");
    objs.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(n) + " >>");
    for (int i = 0; i < n; ++i) {
        objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + std::to_string(width_pt) + " " +
                       std::to_string(height_pt) + "] /Contents " + std::to_string(4 + 2 * i) + " 0 R >>");
        objs.push_back("<< /Length " + std::to_string(page_contents[i].size()) + " >>\nstream\n" + page_contents[i] +
                       "\nendstream");
    }
    std::string pdf = "%PDF-1.4\n";
    std::vector<size_t> offsets;
    for (size_t i = 0; i < objs.size(); ++i) {
        offsets.push_back(pdf.size());
        pdf += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
    }
    size_t xref = pdf.size();
    pdf += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
    for (size_t o : offsets) {
        char line[32];
        std::snprintf(line, sizeof line, "%010zu 00000 n \n", o);
        pdf += line;
    }
    pdf += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
    return pdf;
}

void expect_error_naming(const std::function<void()>& f, const std::string& file, const std::string& what) {
    try {
        f();
        ADD_FAILURE() << "no error for " << file;
    } catch (const umt::Error& e) {
        EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
}

}  // namespace

TEST(Image, TransparentPngIsCompositedOnWhite) {
    auto dir = temp_dir();
    cv::Mat bgra(40, 60, CV_8UC4, cv::Scalar(0, 0, 0, 0));                    // transparent black
    cv::rectangle(bgra, cv::Rect(10, 10, 20, 20), cv::Scalar(0, 0, 0, 255), -1);  // opaque black
    cv::rectangle(bgra, cv::Rect(40, 10, 10, 10), cv::Scalar(0, 0, 0, 128), -1);  // half transparent
    cv::imwrite((dir / "a.png").string(), bgra);
    cv::Mat g = umt::read_gray_image((dir / "a.png").string());
    ASSERT_EQ(g.type(), CV_8UC1);
    EXPECT_EQ(g.at<uint8_t>(0, 0), 255);
    EXPECT_EQ(g.at<uint8_t>(15, 15), 0);
    EXPECT_NEAR(g.at<uint8_t>(15, 45), 127, 2);
    fs::remove_all(dir);
}

TEST(Image, EveryFormatReadsToGray) {
    auto dir = temp_dir();
    cv::Mat bgr(50, 70, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::rectangle(bgr, cv::Rect(5, 5, 30, 30), cv::Scalar(0, 0, 255), -1);  // red -> luma 76
    for (std::string ext : {"png", "jpg", "tif", "bmp"}) {
        auto p = (dir / ("c." + ext)).string();
        ASSERT_TRUE(cv::imwrite(p, bgr)) << ext;
        auto pages = umt::read_pages(p);
        ASSERT_EQ(pages.size(), 1u);
        EXPECT_EQ(pages[0].page, 1);
        const cv::Mat& g = pages[0].gray;
        EXPECT_EQ(g.size(), cv::Size(70, 50)) << ext;
        EXPECT_NEAR(g.at<uint8_t>(20, 20), 76, 4) << ext;
        EXPECT_NEAR(g.at<uint8_t>(45, 65), 255, 3) << ext;
    }
    // 16-bit grayscale is scaled to 8 bits.
    cv::Mat g16(10, 10, CV_16UC1, cv::Scalar(65535));
    g16.at<uint16_t>(5, 5) = 0;
    cv::imwrite((dir / "g16.png").string(), g16);
    cv::Mat g = umt::read_gray_image((dir / "g16.png").string());
    EXPECT_EQ(g.at<uint8_t>(0, 0), 255);
    EXPECT_EQ(g.at<uint8_t>(5, 5), 0);
    fs::remove_all(dir);
}

TEST(Image, PdfPagesRenderAtTheChosenDpi) {
    auto dir = temp_dir();
    // Page 1: a black bar at the top-left; page 2: empty. 200 x 100 pt.
    write_bytes(dir / "two.pdf", make_pdf({"0 0 0 rg 20 60 100 20 re f", ""}, 200, 100));
    umt::ImageReadOptions o;
    o.pdf_dpi = 144;
    auto pages = umt::read_pages((dir / "two.pdf").string(), o);
    ASSERT_EQ(pages.size(), 2u);
    EXPECT_EQ(pages[0].gray.size(), cv::Size(400, 200));
    EXPECT_EQ(pages[1].page, 2);
    // PDF y runs upwards: the bar spans y 60..80 pt from the bottom = rows 40..80 at 144 dpi.
    EXPECT_LT(pages[0].gray.at<uint8_t>(60, 100), 10);
    EXPECT_EQ(pages[0].gray.at<uint8_t>(150, 300), 255);
    EXPECT_EQ(cv::countNonZero(pages[1].gray < 250), 0);
    cv::Mat p2 = umt::read_gray_image((dir / "two.pdf").string(), 2, o);
    EXPECT_EQ(p2.size(), cv::Size(400, 200));
    EXPECT_THROW(umt::read_gray_image((dir / "two.pdf").string(), 3, o), umt::Error);
    fs::remove_all(dir);
}

TEST(Image, BadInputsGiveClearErrors) {
    auto dir = temp_dir();
    cv::Mat img(30, 30, CV_8UC1, cv::Scalar(128));
    cv::imwrite((dir / "ok.png").string(), img);
    std::string png = read_bytes(dir / "ok.png");

    auto corrupt = (dir / "corrupt.png").string();
    write_bytes(corrupt, png.substr(0, png.size() / 2));
    expect_error_naming([&] { umt::read_pages(corrupt); }, corrupt, "not a readable image");

    auto empty = (dir / "empty.png").string();
    write_bytes(empty, "");
    expect_error_naming([&] { umt::read_pages(empty); }, empty, "empty");

    auto nopages = (dir / "nopages.pdf").string();
    write_bytes(nopages, make_pdf({}, 100, 100));
    expect_error_naming([&] { umt::read_pages(nopages); }, nopages, "PDF");

    auto junk_pdf = (dir / "junk.pdf").string();
    write_bytes(junk_pdf, "%PDF-1.4\nthis is not really a pdf\n");
    expect_error_naming([&] { umt::read_pages(junk_pdf); }, junk_pdf, "PDF");

    // A PNG header that claims 40000 x 40000 pixels is refused before any decoding.
    auto huge = (dir / "huge.png").string();
    std::string h = png;
    auto put32 = [&](size_t at, uint32_t v) {
        for (int i = 0; i < 4; ++i) h[at + i] = char((v >> (24 - 8 * i)) & 0xff);
    };
    put32(16, 40000);
    put32(20, 40000);
    write_bytes(huge, h);
    expect_error_naming([&] { umt::read_pages(huge); }, huge, "too large");

    umt::ImageReadOptions small;
    small.max_megapixels = 0.0001;  // 100 px
    expect_error_naming([&] { umt::read_pages((dir / "ok.png").string(), small); }, "ok.png", "too large");
    fs::remove_all(dir);
}

TEST(Image, WriteIsAtomicAndRefusesEmpty) {
    auto dir = temp_dir();
    EXPECT_THROW(umt::write_image(cv::Mat(), (dir / "e.png").string()), umt::Error);
    EXPECT_TRUE(fs::is_empty(dir));
    cv::Mat img(8, 8, CV_8UC1, cv::Scalar(7));
    umt::write_image(img, (dir / "w.png").string());
    EXPECT_EQ(umt::read_gray_image((dir / "w.png").string()).at<uint8_t>(3, 3), 7);
    fs::remove_all(dir);
}
