// umt systems: page images / PDFs -> one normalized PNG per system plus systems.json.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "umt/cli/batch.hpp"
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
    int staff_bands = 0;
};

// Where an input's systems go: DIR/<path below the input folder>/<stem>-sNN.png (or -pP-sNN.png
// for a PDF), and <stem>.systems.json, its entries, written last.
std::string prefix_of(const Job& job) {
    std::string out = job.output;
    return out.substr(0, out.size() - std::string(".png").size());
}
std::string sidecar_of(const Job& job) { return prefix_of(job) + ".systems.json"; }

// systems.json: every input's entries in the folder, in name order, rebuilt from the sidecars
// under a lock, so that shards and resumed runs writing into one folder all end up in it.
void write_index(const std::filesystem::path& dir, int staff_height, int staff_bands) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    std::string lock_path = (dir / ".systems.json.lock").string();
    int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd >= 0) ::flock(fd, LOCK_EX);
    std::vector<std::string> sidecars;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::string name = it->path().filename().string();
        const std::string tail = ".systems.json";
        if (name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0 && name[0] != '.')
            sidecars.push_back(it->path().string());
    }
    std::sort(sidecars.begin(), sidecars.end());
    nlohmann::json systems = nlohmann::json::array(), pages = nlohmann::json::array();
    for (const auto& f : sidecars) {
        try {
            auto j = nlohmann::json::parse(read_file(f));
            for (auto& e : j.at("systems")) systems.push_back(std::move(e));
            for (auto& e : j.at("pages")) pages.push_back(std::move(e));
        } catch (const std::exception& e) {
            spdlog::warn("{}: unreadable, left out of systems.json ({})", f, e.what());
        }
    }
    if (!sidecars.empty()) {
        nlohmann::json doc{{"staff_height_px", staff_height}, {"staff_bands", staff_bands}, {"systems", systems}, {"pages", pages}};
        write_file_atomic((dir / "systems.json").string(), doc.dump(1) + "\n");
    }
    if (fd >= 0) {
        ::flock(fd, LOCK_UN);
        ::close(fd);
    }
}

}  // namespace

void register_systems(CLI::App& app, GlobalOptions& g, int& rc) {
    auto a = std::make_shared<SystemsArgs>();
    auto batch = std::make_shared<BatchFlags>();
    auto* sub = app.add_subcommand("systems", "Split score pages (images or PDF) into normalized system images");
    sub->add_option("inputs", a->inputs, "Page images (png jpg tif bmp) or PDFs, or folders");
    sub->add_option("-o,--output", a->output,
                    "Output folder: <page>-sNN.png per system (mirroring input folders), <page>.systems.json per input "
                    "and systems.json for all")
        ->required();
    sub->add_option("--staff-height", a->staff_height, "Staff height (top to bottom line) of the output images, px")
        ->check(CLI::Range(6, 200));
    sub->add_option("--dpi", a->dpi, "PDF rasterization resolution")->check(CLI::Range(30, 1200));
    sub->add_option("--max-skew", a->max_skew, "Largest page rotation corrected, degrees")->check(CLI::Range(0.0, 10.0));
    sub->add_option("--margin", a->margin, "Margin kept above the first and below the last system of a page, staff spaces (between systems the crop cuts at the blank row nearest the middle)")->check(CLI::Range(0.0, 20.0));
    sub->add_option("--staff-bands", a->staff_bands,
                    "Band layout: every staff in a band of its own, this many staff spaces above its top line and "
                    "below its bottom line, bands stacked (0: the system as it is on the page). Use the value of "
                    "the model that is trained on the images (umt info: staff bands). umt omr cuts its inputs itself: give it "
                    "pages, or systems cut as on the page, not band images")
        ->check(CLI::Range(0, 16));
    add_batch_flags(sub, *batch);
    sub->callback([a, batch, &g, &rc] {
        namespace fs = std::filesystem;
        BatchSpec spec;
        spec.verb = "systems";
        spec.inputs = a->inputs;
        spec.output = a->output;
        spec.input_exts = image_read_extensions();
        spec.out_ext = "png";
        spec.folder_output = true;
        // Each input's sidecar is written after its images: it marks the input finished.
        spec.finished = [](const Job& job) {
            std::error_code ec;
            return fs::is_regular_file(sidecar_of(job), ec) &&
                   fs::last_write_time(sidecar_of(job), ec) >= fs::last_write_time(job.input, ec);
        };
        auto plan = plan_batch(spec, *batch);
        ImageReadOptions ropts;
        ropts.pdf_dpi = a->dpi;
        layout::LayoutOptions lopts;
        lopts.staff_height_px = a->staff_height;
        lopts.max_skew_deg = a->max_skew;
        lopts.margin_spaces = a->margin;
        lopts.staff_bands = a->staff_bands;
        const fs::path out_dir(a->output);
        rc = run_batch(plan, *batch, g, "systems", [&](const Job& job, JobContext& ctx) {
            const std::string prefix = prefix_of(job);
            const std::string stem = fs::path(prefix).filename().string();
            const fs::path rel_dir = fs::path(prefix).parent_path().lexically_relative(out_dir);
            std::vector<PageImage> page_images;
            {
                StageTimer timer(&ctx.timings, "read");
                page_images = read_pages(job.input, ropts);
            }
            // Analyse every page first, then write: a failure leaves no files of this input.
            struct Out { std::string file; cv::Mat image; };
            std::vector<Out> outs;
            nlohmann::json system_entries = nlohmann::json::array(), page_entries = nlohmann::json::array();
            StageTimer layout_timer(&ctx.timings, "layout");
            for (const auto& p : page_images) {
                auto layout = layout::analyze_page(p.gray, lopts);
                std::string page_stem = page_images.size() > 1 ? stem + "-p" + std::to_string(p.page) : stem;
                if (layout.systems.empty() && page_images.size() > 1)
                    spdlog::warn("{} page {}: no staves found; no systems written", job.input, p.page);
                for (size_t i = 0; i < layout.systems.size(); ++i) {
                    const auto& s = layout.systems[i];
                    char name[32];
                    std::snprintf(name, sizeof name, "-s%02zu.png", i + 1);
                    std::string file = (rel_dir / (page_stem + name)).lexically_normal().string();
                    nlohmann::json corners = nlohmann::json::array(), groups = nlohmann::json::array();
                    for (const auto& c : s.corners) corners.push_back({std::round(c.x * 10) / 10, std::round(c.y * 10) / 10});
                    for (const auto& g : s.groups)
                        groups.push_back({{"staves", g.count}, {"box", {g.box.x, g.box.y, g.box.width, g.box.height}}});
                    outs.push_back({(out_dir / file).string(), s.image});
                    system_entries.push_back({{"source", job.input}, {"page", p.page}, {"system", i + 1},
                                              {"box", {s.box.x, s.box.y, s.box.width, s.box.height}},
                                              {"corners", corners}, {"staves", s.staves.size()}, {"staff_groups", groups},
                                              {"staff_height_px", std::round(s.staff_height_px * 100) / 100},
                                              {"skew_deg", std::round(s.skew_deg * 1000) / 1000},
                                              {"scale", s.scale}, {"width", s.image.cols}, {"height", s.image.rows},
                                              {"file", file}});
                }
                page_entries.push_back({{"source", job.input}, {"page", p.page}, {"width", p.gray.cols},
                                        {"height", p.gray.rows}, {"skew_deg", std::round(layout.skew_deg * 1000) / 1000},
                                        {"line_distance_px", layout.line_distance_px},
                                        {"staves", layout.staves.size()}, {"systems", layout.systems.size()}});
            }
            layout_timer.stop();
            // Nothing to write is a failure of this input, not a warning (a blank page, a photo).
            if (outs.empty())
                throw umt::Error(job.input, page_images.size() > 1 ? "no staves found on any page; no systems written"
                                                                   : "no staves found; no systems written");
            StageTimer write_timer(&ctx.timings, "write");
            for (const auto& o : outs) write_image(o.image, o.file);
            write_file_atomic(sidecar_of(job),
                              nlohmann::json{{"systems", system_entries}, {"pages", page_entries}}.dump(1) + "\n");
            spdlog::info("systems: {}: {} page(s), {} system(s)", job.input, page_images.size(), outs.size());
        });
        write_index(out_dir, a->staff_height, a->staff_bands);
    });
}

}  // namespace umt::cli
