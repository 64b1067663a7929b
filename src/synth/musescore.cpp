// MuseScore 3 as an engraving engine: the score written as MusicXML into a temporary folder,
// engraved to PNG pages by the mscore3 command line, read back and stacked.
#include "umt/synth/musescore.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <utility>
#include <vector>

#include "umt/core/error.hpp"
#include "umt/core/files.hpp"
#include "umt/io/image.hpp"
#include "umt/io/musicxml.hpp"
#include "umt/layout/systems.hpp"

namespace umt::synth {

namespace fs = std::filesystem;

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
    return layout::stack_page(images, 0);
}

}  // namespace umt::synth
