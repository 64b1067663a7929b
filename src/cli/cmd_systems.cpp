// umt systems: page images / PDFs -> one normalized PNG per system plus systems.json.
#include <cstdio>
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "umt/cli/common.hpp"
#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/image.hpp"
#include "umt/layout/systems.hpp"

namespace umt::cli {

namespace {

struct SystemsArgs {
    std::vector<std::string> inputs;
    std::string output;
    int staff_height = 18;
    int dpi = 150;
    double max_skew = 3.0;
    double margin = 6.0;
};

}  // namespace

void register_systems(CLI::App& app, GlobalOptions& g, int& rc) {
    auto a = std::make_shared<SystemsArgs>();
    auto* sub = app.add_subcommand("systems", "Split score pages (images or PDF) into normalized system images");
    sub->add_option("inputs", a->inputs, "Page images (png jpg tif bmp) or PDFs, or folders")->required();
    sub->add_option("-o,--output", a->output, "Output folder: <page>-sNN.png per system and systems.json")->required();
    sub->add_option("--staff-height", a->staff_height, "Staff height (top to bottom line) of the output images, px")
        ->check(CLI::Range(6, 200));
    sub->add_option("--dpi", a->dpi, "PDF rasterization resolution")->check(CLI::Range(30, 1200));
    sub->add_option("--max-skew", a->max_skew, "Largest page rotation corrected, degrees")->check(CLI::Range(0.0, 10.0));
    sub->add_option("--margin", a->margin, "Margin kept above the first and below the last system of a page, staff spaces (between systems the crop cuts at the blank row nearest the middle)")->check(CLI::Range(0.0, 20.0));
    sub->callback([a, &g, &rc] {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (a->output == "-") throw UsageError("umt systems writes a folder of images: give -o DIR");
        if (fs::exists(a->output, ec) && !fs::is_directory(a->output, ec))
            throw UsageError(a->output + ": umt systems needs an output folder, but this is a file");
        fs::create_directories(a->output, ec);
        if (ec) throw umt::Error(a->output, "cannot create folder: " + ec.message());
        // plan_jobs expands folders and gives each input a unique stem inside DIR.
        auto jobs = plan_jobs(a->inputs, a->output, image_read_extensions(), "png");
        ImageReadOptions ropts;
        ropts.pdf_dpi = a->dpi;
        layout::LayoutOptions lopts;
        lopts.staff_height_px = a->staff_height;
        lopts.max_skew_deg = a->max_skew;
        lopts.margin_spaces = a->margin;
        nlohmann::json systems = nlohmann::json::array(), pages = nlohmann::json::array();
        rc = run_jobs(jobs, g, "systems", [&](const Job& job) {
            std::string stem = fs::path(job.output).stem().string();
            auto page_images = read_pages(job.input, ropts);
            // Analyse every page first, then write: a failure leaves no files of this input.
            struct Out { std::string file; cv::Mat image; nlohmann::json entry; };
            std::vector<Out> outs;
            nlohmann::json page_entries = nlohmann::json::array();
            for (const auto& p : page_images) {
                auto layout = layout::analyze_page(p.gray, lopts);
                std::string page_stem = page_images.size() > 1 ? stem + "-p" + std::to_string(p.page) : stem;
                if (layout.systems.empty())
                    spdlog::warn("{}{}: no staves found; no systems written", job.input,
                                 page_images.size() > 1 ? " page " + std::to_string(p.page) : "");
                for (size_t i = 0; i < layout.systems.size(); ++i) {
                    const auto& s = layout.systems[i];
                    char name[32];
                    std::snprintf(name, sizeof name, "-s%02zu.png", i + 1);
                    std::string file = page_stem + name;
                    nlohmann::json corners = nlohmann::json::array(), groups = nlohmann::json::array();
                    for (const auto& c : s.corners) corners.push_back({std::round(c.x * 10) / 10, std::round(c.y * 10) / 10});
                    for (const auto& g : s.groups)
                        groups.push_back({{"staves", g.count}, {"box", {g.box.x, g.box.y, g.box.width, g.box.height}}});
                    outs.push_back({(fs::path(a->output) / file).string(), s.image,
                                    {{"source", job.input}, {"page", p.page}, {"system", i + 1},
                                     {"box", {s.box.x, s.box.y, s.box.width, s.box.height}},
                                     {"corners", corners}, {"staves", s.staves.size()}, {"staff_groups", groups},
                                     {"staff_height_px", std::round(s.staff_height_px * 100) / 100},
                                     {"skew_deg", std::round(s.skew_deg * 1000) / 1000},
                                     {"scale", s.scale}, {"width", s.image.cols}, {"height", s.image.rows},
                                     {"file", file}}});
                }
                page_entries.push_back({{"source", job.input}, {"page", p.page}, {"width", p.gray.cols},
                                        {"height", p.gray.rows}, {"skew_deg", std::round(layout.skew_deg * 1000) / 1000},
                                        {"line_distance_px", layout.line_distance_px},
                                        {"staves", layout.staves.size()}, {"systems", layout.systems.size()}});
            }
            for (const auto& o : outs) write_image(o.image, o.file);
            for (auto& o : outs) systems.push_back(std::move(o.entry));
            for (auto& e : page_entries) pages.push_back(std::move(e));
            spdlog::info("systems: {}: {} page(s), {} system(s)", job.input, page_images.size(), outs.size());
        });
        if (!pages.empty()) {
            nlohmann::json doc{{"staff_height_px", a->staff_height}, {"systems", systems}, {"pages", pages}};
            write_file_atomic((fs::path(a->output) / "systems.json").string(), doc.dump(1) + "\n");
        }
    });
}

}  // namespace umt::cli
