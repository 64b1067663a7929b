// Decode speed of the C++ loop vs the Python reference loop on a random 256-wide 4+4-layer bundle.
//
// Usage: bench_decode [--steps N] [--input-len N] [--bundle DIR]
// Without --bundle it exports a random bundle into a temporary folder first (Python, seconds).
// Prints a markdown table: decoder steps per second (one step = every row of the batch advances
// one frame: decode_step + 4 sub-decoder passes) for batch 1 and 8, 1 and 2 threads, cached and
// uncached, and the ratio to Python on the same bundle and inputs.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "umt/model/bundle.hpp"
#include "umt/model/runtime.hpp"
#include "umt/tokens/midi_tokens.hpp"

namespace fs = std::filesystem;
using namespace umt;

static std::string run_capture(const std::string& cmd) {
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("cannot run " + cmd);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (pclose(p) != 0) throw std::runtime_error("failed: " + cmd);
    return out;
}

int main(int argc, char** argv) {
    int steps = 64, input_len = 64;
    std::string bundle_dir;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--steps") steps = std::stoi(argv[i + 1]);
        else if (a == "--input-len") input_len = std::stoi(argv[i + 1]);
        else if (a == "--bundle") bundle_dir = argv[i + 1];
    }
    const std::string scripts = std::string(UMT_SOURCE_DIR) + "/scripts";
    fs::path tmp;
    if (bundle_dir.empty()) {
        tmp = fs::temp_directory_path() / ("umt-bench-bundle-" + std::to_string(::getpid()));
        // A negative end bias keeps the random model from stopping: every run decodes `steps` frames.
        run_capture("/usr/bin/python3 " + scripts + "/export_bundle.py " + tmp.string() +
                    " --width 256 --heads 4 --encoder-layers 4 --decoder-layers 4 --codebook-size 1024"
                    " --midi-size " + std::to_string(midi_tokens::vocab_size()) + " --rvq-end-bias -100");
        bundle_dir = tmp.string();
    }
    model::ModelBundle bundle(bundle_dir);
    const auto& v = bundle.vocabulary();
    auto& tr = bundle.translator(model::Direction::TowardAudio);
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> d(0, v.codebook_size(tokens::Modality::Midi) - 1);
    std::vector<model::DecodeRequest> requests;
    for (int i = 0; i < 8; ++i) {
        std::vector<int> ids(static_cast<size_t>(input_len));
        for (auto& x : ids) x = d(rng);
        requests.push_back({v.midi_frames(ids), {}});
    }
    auto py = nlohmann::json::parse(run_capture("/usr/bin/python3 " + scripts + "/bench_decode.py " + bundle_dir + " " +
                                                std::to_string(steps) + " " + std::to_string(input_len)));
    std::cout << "| batch | threads | cache | C++ steps/s | C++ frames/s | Python steps/s | C++ / Python |\n";
    std::cout << "|---:|---:|---|---:|---:|---:|---:|\n";
    for (int threads : {1, 2}) {
        model::set_threads(threads);
        for (int batch : {1, 8}) {
            for (bool cached : {true, false}) {
                model::DecodeOptions opt;
                opt.target = tokens::Modality::Audio;
                opt.batch_size = batch;
                opt.use_cache = cached;
                std::vector<model::DecodeRequest> rq(requests.begin(), requests.begin() + batch);
                opt.max_steps = 4;
                tr.decode(rq, opt);  // warm-up (TorchScript profiling runs)
                opt.max_steps = steps;
                model::DecodeStats st;
                tr.decode(rq, opt, &st);
                double cpp = double(st.steps) / st.seconds;
                std::string key = std::to_string(batch) + "/" + std::to_string(threads) + "/" + (cached ? "cached" : "uncached");
                double pys = py.value(key, 0.0);
                char line[256];
                std::snprintf(line, sizeof line, "| %d | %d | %s | %.1f | %.1f | %.1f | %.2f |\n", batch, threads,
                              cached ? "yes" : "no", cpp, double(st.row_steps) / st.seconds, pys, pys > 0 ? cpp / pys : 0.0);
                std::cout << line << std::flush;
            }
        }
    }
    if (!tmp.empty()) fs::remove_all(tmp);
    return 0;
}
