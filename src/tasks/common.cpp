// What the tasks share: decode settings and sampler defaults, threads, stage timings, system images,
// page stacking, and the MuseScore engraver of the staged paths.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/image.hpp"
#include "umt/io/musicxml.hpp"
#include "umt/layout/systems.hpp"
#include "umt/tasks/tasks.hpp"

namespace umt::tasks {

namespace fs = std::filesystem;

void DecodeSettings::validate() const {
    if (temperature && !(*temperature >= 0.0f))
        throw Error("--temperature must be >= 0 (0 = greedy), got " + std::to_string(*temperature));
    if (top_p && !(*top_p > 0.0f && *top_p <= 1.0f)) throw Error("--top-p must be in (0, 1], got " + std::to_string(*top_p));
    if (top_k && *top_k < 0) throw Error("--top-k must be >= 0 (0 = off)");
    if (max_len < 0) throw Error("--max-len must be >= 0 (0 = tied to the input)");
    if (batch < 1) throw Error("--batch must be >= 1");
}

model::SamplerOptions sampler_for(SamplerDefault task_default, const DecodeSettings& s) {
    s.validate();
    float temperature = 1.0f, top_p = 1.0f;
    switch (task_default) {
        case SamplerDefault::Greedy: temperature = 0.0f; break;
        // Transcription wants the likely notes with a little diversity to leave loops: MT3-like.
        case SamplerDefault::TopP: temperature = 0.8f; top_p = 0.9f; break;
        case SamplerDefault::Multinomial: break;
    }
    if (task_default == SamplerDefault::Greedy && !s.temperature && (s.top_p || s.top_k)) temperature = 1.0f;
    if (s.temperature) temperature = *s.temperature;
    if (s.top_p) top_p = *s.top_p;
    int top_k = s.top_k.value_or(0);
    if (temperature == 0.0f) return model::SamplerOptions::greedy();
    return model::SamplerOptions::sample(temperature, top_k, top_p, s.seed);
}

void set_threads(int threads) {
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
}

namespace {
double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void Timings::add(const std::string& stage, double seconds) {
    for (auto& [name, s] : stages_)
        if (name == stage) {
            s += seconds;
            return;
        }
    stages_.emplace_back(stage, seconds);
}

std::string Timings::summary() const {
    std::string out;
    char buf[64];
    for (const auto& [name, s] : stages_) {
        std::snprintf(buf, sizeof buf, "%s%s %.2f s", out.empty() ? "" : ", ", name.c_str(), s);
        out += buf;
    }
    std::snprintf(buf, sizeof buf, "%stotal %.2f s", out.empty() ? "" : "; ", total());
    return out + buf;
}

double Timings::total() const {
    double t = 0.0;
    for (const auto& st : stages_) t += st.second;
    return t;
}

StageTimer::StageTimer(Timings* t, std::string stage) : t_(t), stage_(std::move(stage)), start_(now_s()) {}
StageTimer::~StageTimer() { stop(); }
void StageTimer::stop() {
    if (t_) t_->add(stage_, now_s() - start_);
    t_ = nullptr;
}

bool bundle_supports(const model::ModelBundle& bundle, const std::string& task) {
    const auto& m = bundle.manifest();
    if (m.contains("tasks") && m["tasks"].is_array()) {
        for (const auto& t : m["tasks"])
            if (t.is_string() && t.get<std::string>() == task) return true;
        return false;
    }
    // The directions of DESIGN.md section 4: I2A outputs LMX or audio, A2I image or MIDI.
    const std::string direction = (task == "omr" || task == "synth" || task == "i2a") ? "i2a" : "a2i";
    return m.contains("translators") && m["translators"].contains(direction);
}

namespace {

// Per system, its whole image (groups = false) or its staff groups' images.
std::vector<std::vector<GroupImage>> prepare_page(const cv::Mat& gray, int staff_height_px, int max_rows,
                                               const std::string& source, bool groups, Timings* timings) {
    StageTimer timer(timings, "layout");
    constexpr int kCell = model::ImageCodec::kDownsample;
    layout::LayoutOptions lo;
    lo.staff_height_px = staff_height_px;
    lo.pad_multiple = kCell;
    auto page = layout::analyze_page(gray, lo);
    std::vector<std::vector<GroupImage>> systems;
    for (auto& s : page.systems) {
        systems.emplace_back();
        if (!groups || s.groups.empty()) systems.back().push_back({s.image, int(s.staves.size())});
        else for (auto& g : s.groups) systems.back().push_back({g.image, g.count});
    }
    if (systems.empty()) {
        // A crop too small for staff detection is read as one system, as it is.
        if (gray.empty() || gray.rows > max_rows * kCell)
            throw Error(source, "no staves found (and the image is too tall to be a single system of at most " +
                                    std::to_string(max_rows * kCell) + " px)");
        cv::Mat padded;
        cv::copyMakeBorder(gray, padded, 0, (kCell - gray.rows % kCell) % kCell, 0, (kCell - gray.cols % kCell) % kCell,
                           cv::BORDER_CONSTANT, cv::Scalar(255));
        spdlog::info("{}: no staves found; read as one system of {}x{} px", source, padded.cols, padded.rows);
        systems.push_back({{padded, 0}});
    }
    for (size_t i = 0; i < systems.size(); ++i)
        for (const auto& g : systems[i])
            if (g.image.rows / kCell > max_rows)
                throw Error(source, "system " + std::to_string(i + 1) + " is " + std::to_string(g.image.rows) +
                                        " px tall after normalization; this model reads systems of at most " +
                                        std::to_string(max_rows * kCell) + " px (" + std::to_string(max_rows) + " code rows)");
    return systems;
}

std::vector<std::vector<GroupImage>> read_pages_as(model::ModelBundle& bundle, const std::string& path, bool groups,
                                                Timings* timings) {
    std::vector<PageImage> pages;
    {
        StageTimer timer(timings, "read");
        pages = read_pages(path);
    }
    std::vector<std::vector<GroupImage>> out;
    for (const auto& p : pages) {
        std::string source = pages.size() > 1 ? path + " page " + std::to_string(p.page) : path;
        auto systems = prepare_page(p.gray, bundle.staff_height_px(), bundle.vocabulary().max_height(), source, groups,
                                    timings);
        out.insert(out.end(), systems.begin(), systems.end());
    }
    return out;
}

std::vector<cv::Mat> whole(const std::vector<std::vector<GroupImage>>& systems) {
    std::vector<cv::Mat> out;
    for (const auto& s : systems) out.push_back(s.at(0).image);
    return out;
}

}  // namespace

std::vector<cv::Mat> prepare_systems(const cv::Mat& gray, int staff_height_px, int max_rows, const std::string& source,
                                     Timings* timings) {
    return whole(prepare_page(gray, staff_height_px, max_rows, source, false, timings));
}

std::vector<cv::Mat> read_systems(model::ModelBundle& bundle, const std::string& path, Timings* timings) {
    return whole(read_pages_as(bundle, path, false, timings));
}

std::vector<std::vector<GroupImage>> read_staff_groups(model::ModelBundle& bundle, const std::string& path,
                                                       Timings* timings) {
    return read_pages_as(bundle, path, true, timings);
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

namespace {

std::string find_musescore() {
    for (const char* name : {"mscore3", "musescore3", "mscore", "musescore"}) {
        const char* path = std::getenv("PATH");
        std::string dirs = path ? path : "/usr/bin:/usr/local/bin";
        size_t start = 0;
        while (start <= dirs.size()) {
            size_t end = dirs.find(':', start);
            if (end == std::string::npos) end = dirs.size();
            fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
            if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
            start = end + 1;
        }
    }
    return "";
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

bool musescore_available() { return !find_musescore().empty(); }

cv::Mat engrave_musescore(const Score& score, Timings* timings) {
    std::string exe = find_musescore();
    if (exe.empty())
        throw Error("umt engrave --engine musescore: MuseScore 3 is not installed (apt-get install musescore3), "
                    "or use the neural engine with a model bundle");
    static std::atomic<int> counter{0};
    fs::path dir = fs::temp_directory_path() /
                   ("umt-mscore-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    struct Cleanup {
        fs::path d;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(d, ec);
        }
    } cleanup{dir};
    save_score(score, (dir / "score.musicxml").string());
    std::vector<std::pair<int, fs::path>> pages;
    {
        StageTimer timer(timings, "engrave");
        std::string cmd = "QT_QPA_PLATFORM=offscreen " + shell_quote(exe) + " -r 150 -o " +
                          shell_quote((dir / "page.png").string()) + " " + shell_quote((dir / "score.musicxml").string()) +
                          " > " + shell_quote((dir / "log.txt").string()) + " 2>&1";
        int rc = std::system(cmd.c_str());
        for (const auto& e : fs::directory_iterator(dir)) {
            std::string name = e.path().filename().string();
            // MuseScore writes page-1.png, page-2.png, ... for "-o page.png".
            if (name.rfind("page-", 0) == 0 && e.path().extension() == ".png")
                pages.emplace_back(std::atoi(name.c_str() + 5), e.path());
        }
        if (rc != 0 || pages.empty()) {
            std::string log;
            try {
                log = read_file((dir / "log.txt").string(), true);
            } catch (const std::exception&) {
            }
            if (log.size() > 400) log = log.substr(log.size() - 400);
            throw Error(exe, "MuseScore could not engrave the score (exit " + std::to_string(rc) + "): " + log);
        }
    }
    std::sort(pages.begin(), pages.end());
    std::vector<cv::Mat> images;
    for (const auto& p : pages) images.push_back(read_gray_image(p.second.string()));
    return stack_page(images, 0);
}

}  // namespace umt::tasks
