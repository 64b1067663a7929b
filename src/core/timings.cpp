// Stage timings of a run.
#include "umt/core/timings.hpp"

#include <chrono>
#include <cstdio>

namespace umt {

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

StageTimer::StageTimer(Timings* timings, std::string stage)
    : timings_(timings), stage_(std::move(stage)), start_s_(now_s()) {}
StageTimer::~StageTimer() { stop(); }
void StageTimer::stop() {
    if (timings_) timings_->add(stage_, now_s() - start_s_);
    timings_ = nullptr;
}

}  // namespace umt
