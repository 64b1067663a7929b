// Page -> systems: drawn pages with known layout, rendered Lieder pages, scan-like variants, the CLI.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "umt/io/image.hpp"
#include "umt/layout/systems.hpp"

namespace fs = std::filesystem;
using umt::layout::analyze_page;
using umt::layout::LayoutOptions;

namespace {

const int kSpace = 12;  // line distance of the drawn pages

struct DrawOpts {
    int dash_on = 0, dash_off = 0;  // staff lines and system barlines as dashes (0: solid)
    int line_x0 = 80;               // where the staff lines start (the barline stays at 80)
    bool ledger_stack = false;      // notes with 4 ledger lines below the last staff
    int mark_below = 0;             // a "3" this many px below the lowest staff line of each system
};

// A horizontal or vertical line, solid or broken into dashes with a random phase.
void dashed_line(cv::Mat& page, cv::Point a, cv::Point b, int thick, const DrawOpts& o, std::mt19937& rng) {
    if (o.dash_on <= 0) {
        cv::line(page, a, b, cv::Scalar(0), thick);
        return;
    }
    bool horizontal = a.y == b.y;
    int len = horizontal ? b.x - a.x : b.y - a.y;
    for (int t = int(rng() % unsigned(o.dash_on + o.dash_off)); t < len; t += o.dash_on + o.dash_off) {
        int e = std::min(len, t + o.dash_on);
        if (horizontal) cv::line(page, {a.x + t, a.y}, {a.x + e, a.y}, cv::Scalar(0), thick);
        else cv::line(page, {a.x, a.y + t}, {a.x, a.y + e}, cv::Scalar(0), thick);
    }
}

// Draws a page with systems of the given staff counts; multi-staff systems get a system
// barline, a brace-like bracket and barlines; every staff gets note heads, stems and text.
cv::Mat draw_page(const std::vector<int>& staves_per_system, const DrawOpts& o = {}) {
    cv::Mat page(1400, 1000, CV_8UC1, cv::Scalar(255));
    std::mt19937 rng(7);
    int y = 120;
    for (int n : staves_per_system) {
        int top = y;
        for (int s = 0; s < n; ++s) {
            for (int l = 0; l < 5; ++l) dashed_line(page, {o.line_x0, y + l * kSpace}, {940, y + l * kSpace}, 2, o, rng);
            for (int x = 140; x < 920; x += 45) {
                int ny = y + int(rng() % 9) * kSpace / 2;
                cv::ellipse(page, {x, ny}, {7, 5}, -20, 0, 360, cv::Scalar(0), -1);
                cv::line(page, {x + 6, ny}, {x + 6, ny - 38}, cv::Scalar(0), 2);
            }
            for (int x = 300; x < 940; x += 220) cv::line(page, {x, y}, {x, y + 4 * kSpace}, cv::Scalar(0), 2);
            cv::putText(page, "la la la", {150, y + 4 * kSpace + 28}, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(0), 1);
            if (o.ledger_stack && s + 1 == n)
                for (int x = 520; x < 900; x += 30) {
                    int ny = y + 4 * kSpace + 5 * kSpace;
                    for (int l = 1; l <= 4; ++l) cv::line(page, {x - 11, y + (4 + l) * kSpace}, {x + 11, y + (4 + l) * kSpace}, cv::Scalar(0), 2);
                    cv::ellipse(page, {x, ny}, {7, 5}, -20, 0, 360, cv::Scalar(0), -1);
                }
            y += 4 * kSpace + (s + 1 < n ? 90 : 0);
        }
        if (n > 1) {
            dashed_line(page, {80, top}, {80, y}, 2, o, rng);
            cv::line(page, {70, top - 4}, {70, y + 4}, cv::Scalar(0), 5);  // bracket
        }
        if (o.mark_below > 0)
            cv::putText(page, "3", {600, y + o.mark_below + 10}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0), 1);
        y += 4 * kSpace + 150;
    }
    return page;
}

std::vector<size_t> staff_counts(const umt::layout::PageLayout& p) {
    std::vector<size_t> c;
    for (const auto& s : p.systems) c.push_back(s.staves.size());
    return c;
}

// Staves per staff group, per system.
std::vector<std::vector<int>> group_counts(const umt::layout::PageLayout& p) {
    std::vector<std::vector<int>> out;
    for (const auto& s : p.systems) {
        out.emplace_back();
        for (const auto& g : s.groups) out.back().push_back(g.count);
    }
    return out;
}

cv::Mat scan_like(const cv::Mat& page, double deg, unsigned seed) {
    cv::Mat rot, blur, noisy;
    cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(page.cols / 2.f, page.rows / 2.f), deg, 1.0);
    cv::warpAffine(page, rot, m, page.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(255));
    cv::GaussianBlur(rot, blur, cv::Size(0, 0), 0.8);
    cv::Mat noise(page.size(), CV_32F);
    cv::setRNGSeed(int(seed));
    cv::randn(noise, 0, 10);
    cv::Mat f;
    blur.convertTo(f, CV_32F, 0.92, 8);
    f += noise;
    f.convertTo(noisy, CV_8U);
    return noisy;
}

// The data factory's kind of degradation (scripts/datafactory/images.py) with fixed draws:
// tinted paper, uneven lighting from a coarse 3x3 field, rotation, blur, sensor noise,
// and optionally a hard threshold.
cv::Mat factory_like(const cv::Mat& page, double paper, double deg, double blur, double noise, int binarize_at, unsigned seed) {
    cv::Mat f;
    page.convertTo(f, CV_32F);
    f = paper - (255.0 - f) * (paper / 255.0) * 0.9;
    cv::Mat coarse = (cv::Mat_<float>(3, 3) << 0.98, 0.75, 0.95, 0.8, 1.0, 0.72, 0.95, 0.78, 0.9), field;
    cv::resize(coarse, field, page.size(), 0, 0, cv::INTER_CUBIC);
    f = f.mul(field);
    cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(page.cols / 2.f, page.rows / 2.f), deg, 1.0), rot;
    cv::warpAffine(f, rot, m, page.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(paper));
    cv::GaussianBlur(rot, f, cv::Size(0, 0), blur);
    cv::Mat n(page.size(), CV_32F);
    cv::setRNGSeed(int(seed));
    cv::randn(n, 0, noise);
    f += n;
    if (binarize_at > 0) cv::threshold(f, f, binarize_at, 255, cv::THRESH_BINARY);
    cv::Mat out;
    f.convertTo(out, CV_8U);
    return out;
}

std::string data(const std::string& name) { return std::string(UMT_SOURCE_DIR) + "/tests/data/media/" + name; }

}  // namespace

TEST(Layout, DrawnPageGivesItsSystemsAndStaves) {
    auto page = analyze_page(draw_page({2, 3, 1}));
    EXPECT_EQ(staff_counts(page), (std::vector<size_t>{2, 3, 1}));
    EXPECT_NEAR(page.skew_deg, 0.0, 0.05);
    EXPECT_NEAR(page.line_distance_px, kSpace, 1.0);
    for (const auto& s : page.systems) {
        EXPECT_NEAR(s.staff_height_px, 4 * kSpace, 1.0);
        // The crop holds every staff with room above and below.
        EXPECT_LT(s.box.y, s.staves.front().line_y[0] - 2 * kSpace);
        EXPECT_GT(s.box.y + s.box.height, s.staves.back().line_y[4] + 2 * kSpace);
        EXPECT_LE(s.box.x, 70);
        EXPECT_GE(s.box.x + s.box.width, 940);
    }
    // Crops of neighbouring systems do not overlap.
    for (size_t i = 1; i < page.systems.size(); ++i)
        EXPECT_LE(page.systems[i - 1].box.y + page.systems[i - 1].box.height, page.systems[i].box.y);
}

TEST(Layout, NormalizedCropHasTheRequestedStaffHeightAndPadding) {
    LayoutOptions o;
    o.staff_height_px = 18;
    auto systems = umt::layout::detect_systems(draw_page({2, 1}), o);
    ASSERT_EQ(systems.size(), 2u);
    for (const auto& s : systems) {
        EXPECT_EQ(s.image.type(), CV_8UC1);
        EXPECT_EQ(s.image.cols % 16, 0);
        EXPECT_EQ(s.image.rows % 16, 0);
        EXPECT_NEAR(s.scale, 18.0 / (4 * kSpace), 0.01);
        // Background is pure white: the most common value.
        EXPECT_GT(cv::countNonZero(s.image == 255), int(s.image.total() * 0.6));
        // Measured again on the crop, the staff is 18 px tall.
        LayoutOptions raw;
        raw.normalize = false;
        auto again = analyze_page(s.image, raw);
        ASSERT_FALSE(again.staves.empty());
        EXPECT_NEAR(again.staves[0].height(), 18.0, 1.0);
    }
}

TEST(Layout, RotatedPagesAreDeskewed) {
    for (double deg : {-2.5, 1.0, 2.0}) {
        cv::Mat page = draw_page({3, 2}), rot;
        cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(page.cols / 2.f, page.rows / 2.f), deg, 1.0);
        cv::warpAffine(page, rot, m, page.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(255));
        auto p = analyze_page(rot);
        // getRotationMatrix2D turns counter-clockwise; the lines then rise to the right.
        EXPECT_NEAR(p.skew_deg, -deg, 0.1) << deg;
        EXPECT_EQ(staff_counts(p), (std::vector<size_t>{3, 2})) << deg;
    }
}

TEST(Layout, BlankAndNoisePagesGiveNoSystems) {
    cv::Mat blank(1200, 900, CV_8UC1, cv::Scalar(255));
    EXPECT_TRUE(analyze_page(blank).systems.empty());
    cv::Mat grey(1200, 900, CV_8UC1, cv::Scalar(180));
    EXPECT_TRUE(analyze_page(grey).systems.empty());
    cv::Mat noise(1200, 900, CV_8UC1);
    cv::randu(noise, 0, 256);
    EXPECT_TRUE(analyze_page(noise).systems.empty());
    cv::Mat text(1200, 900, CV_8UC1, cv::Scalar(255));
    for (int y = 60; y < 1150; y += 30) cv::putText(text, "Lorem ipsum dolor sit amet, consectetur", {40, y}, cv::FONT_HERSHEY_SIMPLEX, 0.9, cv::Scalar(0), 2);
    EXPECT_TRUE(analyze_page(text).systems.empty());
}

TEST(Layout, RenderedLiederPagesAndScanLikeVariants) {
    // MuseScore 3 renders of OpenScore Lieder dev pages (150 dpi): voice + piano systems.
    struct Case { const char* file; size_t systems; };
    for (const auto& c : {Case{"lieder-lc4985973-p2.png", 4}, Case{"lieder-lc4945954-p4.png", 3}}) {
        cv::Mat page = umt::read_gray_image(data(c.file));
        std::vector<size_t> want(c.systems, 3);
        EXPECT_EQ(staff_counts(analyze_page(page)), want) << c.file;
        auto scan = analyze_page(scan_like(page, 1.0, 3));
        EXPECT_EQ(staff_counts(scan), want) << c.file << " scan-like";
        EXPECT_NEAR(scan.skew_deg, -1.0, 0.1);
    }
}

TEST(Layout, VoiceAndPianoAreSeparateStaffGroups) {
    // Lieder: the voice staff has barlines of its own; the piano's run through both staves.
    for (const char* file : {"lieder-lc4985973-p2.png", "lieder-lc4945954-p4.png"}) {
        cv::Mat page = umt::read_gray_image(data(file));
        for (const auto& p : {analyze_page(page), analyze_page(scan_like(page, 1.0, 3))}) {
            ASSERT_FALSE(p.systems.empty());
            EXPECT_EQ(group_counts(p), std::vector<std::vector<int>>(p.systems.size(), {1, 2})) << file;
            for (const auto& s : p.systems) {
                const auto& voice = s.groups.at(0);
                const auto& piano = s.groups.at(1);
                // The crops tile the system: the cut lies between the voice staff and the piano.
                EXPECT_EQ(voice.box.y, s.box.y);
                EXPECT_EQ(voice.box.y + voice.box.height, piano.box.y);
                EXPECT_EQ(piano.box.y + piano.box.height, s.box.y + s.box.height);
                EXPECT_GT(piano.box.y, s.staves[0].line_y[4]);
                EXPECT_LT(piano.box.y, s.staves[1].line_y[0]);
                // Normalized like a system: the group's own staff height, padded.
                EXPECT_EQ(piano.image.rows % 16, 0);
                EXPECT_LT(piano.image.rows, s.image.rows);
                EXPECT_NEAR(piano.image.cols, s.image.cols, 16);  // scaled by its own staves
            }
        }
    }
}

// The top lines of the staves found again on a band image (unscaled).
std::vector<double> top_lines(const cv::Mat& image) {
    LayoutOptions raw;
    raw.normalize = false;
    std::vector<double> rows;
    for (const auto& st : analyze_page(image, raw).staves) rows.push_back(st.line_y[0]);
    return rows;
}

TEST(Layout, BandLayoutPutsEveryStaffOnTheSameRowsOfItsBand) {
    // Lieder pages (voice + piano, two engravers' staff distances) and a scan-like copy: every
    // staff's top line lands on row 40 of a 112-px band (5 staff spaces of 8 px above
    // and below a 32-px staff), whatever the staff distance on the page.
    LayoutOptions o;
    o.staff_height_px = 32;
    o.staff_bands = 5;
    for (const char* file : {"lieder-lc4985973-p2.png", "lieder-lc4945954-p4.png"}) {
        cv::Mat page = umt::read_gray_image(data(file));
        for (const auto& p : {analyze_page(page, o), analyze_page(scan_like(page, 1.0, 3), o)}) {
            ASSERT_FALSE(p.systems.empty()) << file;
            for (const auto& s : p.systems) {
                ASSERT_EQ(s.image.rows, 112 * int(s.staves.size())) << file;
                EXPECT_EQ(s.image.cols % 16, 0);
                auto got = top_lines(s.image);
                ASSERT_EQ(got.size(), s.staves.size()) << file;
                for (size_t k = 0; k < got.size(); ++k) EXPECT_NEAR(got[k], 112.0 * k + 40, 1.5) << file << " staff " << k;
                // Groups are banded alike: the voice in 112 px, the piano's two staves in 224.
                ASSERT_EQ(s.groups.size(), 2u);
                EXPECT_EQ(s.groups[0].image.rows, 112);
                EXPECT_EQ(s.groups[1].image.rows, 224);
                auto piano = top_lines(s.groups[1].image);
                ASSERT_EQ(piano.size(), 2u);
                EXPECT_NEAR(piano[0], 40, 1.5);
                EXPECT_NEAR(piano[1], 152, 1.5);
            }
        }
    }
    // Nothing is drawn twice: a system's ink in the band layout is about its ink as cut whole.
    LayoutOptions whole = o;
    whole.staff_bands = 0;
    cv::Mat page = umt::read_gray_image(data("lieder-lc4945954-p4.png"));
    auto banded = analyze_page(page, o), plain = analyze_page(page, whole);
    ASSERT_EQ(banded.systems.size(), plain.systems.size());
    for (size_t i = 0; i < plain.systems.size(); ++i) {
        double a = cv::countNonZero(banded.systems[i].image < 128), b = cv::countNonZero(plain.systems[i].image < 128);
        EXPECT_NEAR(a / b, 1.0, 0.1) << "system " << i + 1;
    }
}

TEST(Layout, DashedStaffLinesAndBarlinesAreFound) {
    // Lines broken into 5-px dashes with 4-px holes (a thin line after a hard threshold).
    DrawOpts o;
    o.dash_on = 5;
    o.dash_off = 4;
    auto p = analyze_page(draw_page({3, 2, 1}, o));
    EXPECT_EQ(staff_counts(p), (std::vector<size_t>{3, 2, 1}));
    for (const auto& s : p.systems) EXPECT_NEAR(s.staff_height_px, 4 * kSpace, 1.0);
}

TEST(Layout, UnevenLightingAndTintedPaper) {
    cv::Mat page = draw_page({2, 3, 1});
    cv::Mat f, field, coarse = (cv::Mat_<float>(2, 2) << 1.0, 0.55, 0.7, 0.95);
    page.convertTo(f, CV_32F);
    f = 235 - (255.0 - f) * 0.85;
    cv::resize(coarse, field, page.size(), 0, 0, cv::INTER_LINEAR);
    f = f.mul(field);
    cv::Mat dim;
    f.convertTo(dim, CV_8U);
    auto p = analyze_page(dim);
    EXPECT_EQ(staff_counts(p), (std::vector<size_t>{2, 3, 1}));
    // The crops are whitened: the dim corner does not turn grey or black.
    for (const auto& s : p.systems) EXPECT_GT(cv::countNonZero(s.image == 255), int(s.image.total() * 0.6));
}

TEST(Layout, PartlyFadedStavesStayInTheirSystemAndCropsSpanThePage) {
    // The staff lines of every staff start only at x = 130 (faded on the left, 4 spaces);
    // the system barline at x = 80 still joins the staves.
    DrawOpts o;
    o.line_x0 = 130;
    auto p = analyze_page(draw_page({3, 2}, o));
    ASSERT_EQ(staff_counts(p), (std::vector<size_t>{3, 2}));
    for (const auto& s : p.systems) {
        EXPECT_LE(s.box.x, 130);
        EXPECT_GE(s.box.x + s.box.width, 940);
    }
}

TEST(Layout, LedgerLineStacksAreNotStaves) {
    DrawOpts o;
    o.ledger_stack = true;
    EXPECT_EQ(staff_counts(analyze_page(draw_page({3, 2, 1}, o))), (std::vector<size_t>{3, 2, 1}));
}

TEST(Layout, CropsKeepMarksFarBelowTheLowestStaff) {
    // A tuplet-like "3" 7 staff spaces below the lowest staff of every system: beyond the
    // 6-space outer margin, still nearer its own system than the next one.
    DrawOpts o;
    o.mark_below = 7 * kSpace;
    cv::Mat page = draw_page({2, 1}, o);
    auto p = analyze_page(page);
    ASSERT_EQ(staff_counts(p), (std::vector<size_t>{2, 1}));
    for (const auto& s : p.systems) {
        int mark_bottom = int(s.staves.back().line_y[4]) + 7 * kSpace + 11;
        EXPECT_GE(s.box.y + s.box.height, mark_bottom) << "system at y " << s.box.y;
    }
    EXPECT_LE(p.systems[0].box.y + p.systems[0].box.height, p.systems[1].box.y);
}

TEST(Layout, FactoryLikeDegradationOfRenderedPages) {
    // Worst corners of the data factory's ranges: 1.2 degrees, blur 1.1, noise 12,
    // lighting down to 72%, with and without a hard threshold.
    struct Case { const char* file; size_t systems; };
    for (const auto& c : {Case{"lieder-lc4985973-p2.png", 4}, Case{"lieder-lc4945954-p4.png", 3}}) {
        cv::Mat page = umt::read_gray_image(data(c.file));
        std::vector<size_t> want(c.systems, 3);
        auto grey = analyze_page(factory_like(page, 225, 1.2, 1.1, 12, 0, 5));
        EXPECT_EQ(staff_counts(grey), want) << c.file << " grey";
        EXPECT_EQ(group_counts(grey), std::vector<std::vector<int>>(c.systems, {1, 2})) << c.file << " grey";
        EXPECT_NEAR(grey.skew_deg, -1.2, 0.1) << c.file;
        // Known weak: at 150 here systems split (lines lost), at 165+ a blackened dim corner merges them.
        auto bin = analyze_page(factory_like(page, 240, -0.8, 0.6, 8, 160, 6));
        EXPECT_EQ(staff_counts(bin), want) << c.file << " binarized";
    }
}

TEST(SystemsCli, WritesCropsAndJsonAndSurvivesBadPages) {
    fs::path dir = fs::temp_directory_path() / ("umt-systems-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    cv::imwrite((dir / "blank.png").string(), cv::Mat(800, 600, CV_8UC1, cv::Scalar(255)));
    std::ofstream(dir / "corrupt.png", std::ios::binary) << "\x89PNG\r\n\x1a\n not really";
    std::string exe = UMT_EXE;
    fs::path out = dir / "out";
    std::string cmd = exe + " -q systems " + data("lieder-lc4985973-p2.png") + " " + (dir / "blank.png").string() + " " +
                      (dir / "corrupt.png").string() + " -o " + out.string() + " 2>/dev/null";
    int rc = std::system(cmd.c_str());
    EXPECT_NE(rc, 0);  // the corrupt page fails the batch...
    // ...as does the blank page (no staves: no output is a failure); the good page is done.
    for (int i = 1; i <= 4; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "lieder-lc4985973-p2-s%02d.png", i);
        ASSERT_TRUE(fs::exists(out / name)) << name;
        cv::Mat img = cv::imread((out / name).string(), cv::IMREAD_UNCHANGED);
        EXPECT_EQ(img.channels(), 1);
        EXPECT_EQ(img.rows % 16, 0);
    }
    EXPECT_FALSE(fs::exists(out / "lieder-lc4985973-p2-s05.png"));
    size_t pngs = 0;
    for (const auto& e : fs::directory_iterator(out)) pngs += e.path().extension() == ".png";
    EXPECT_EQ(pngs, 4u);
    std::ifstream js(out / "systems.json");
    auto doc = nlohmann::json::parse(js);
    EXPECT_EQ(doc["staff_height_px"], 18);
    ASSERT_EQ(doc["systems"].size(), 4u);
    EXPECT_EQ(doc["systems"][0]["staves"], 3);
    EXPECT_EQ(doc["systems"][0]["file"], "lieder-lc4985973-p2-s01.png");
    ASSERT_EQ(doc["systems"][0]["staff_groups"].size(), 2u);  // the voice staff, then the piano
    EXPECT_EQ(doc["systems"][0]["staff_groups"][0]["staves"], 1);
    EXPECT_EQ(doc["systems"][0]["staff_groups"][1]["staves"], 2);
    EXPECT_EQ(doc["systems"][0]["box"].size(), 4u);
    ASSERT_EQ(doc["pages"].size(), 1u);  // the good page; the blank one failed
    EXPECT_EQ(doc["pages"][0]["systems"], 4);
    // A single good page exits 0.
    EXPECT_EQ(std::system((exe + " -q systems " + data("lieder-lc4945954-p4.png") + " -o " + (dir / "one").string()).c_str()), 0);
    EXPECT_TRUE(fs::exists(dir / "one" / "lieder-lc4945954-p4-s03.png"));
    EXPECT_EQ(nlohmann::json::parse(std::ifstream(dir / "one" / "systems.json"))["staff_bands"], 0);
    // The band layout: the voice and the piano's two staves, 3 bands of 5 + 4 + 5 spaces at 8 px.
    EXPECT_EQ(std::system((exe + " -q systems " + data("lieder-lc4945954-p4.png") + " --staff-height 32 --staff-bands 5 -o " +
                           (dir / "bands").string()).c_str()), 0);
    EXPECT_EQ(nlohmann::json::parse(std::ifstream(dir / "bands" / "systems.json"))["staff_bands"], 5);
    EXPECT_EQ(cv::imread((dir / "bands" / "lieder-lc4945954-p4-s03.png").string(), cv::IMREAD_UNCHANGED).rows, 3 * 112);
    fs::remove_all(dir);
}
