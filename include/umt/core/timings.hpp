// Wall-clock seconds per stage of one run (load, layout, encode, decode, write), printed by -v.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace umt {

class Timings {
public:
    // Adds to the stage's total (a stage run several times, as "decode" per window, sums up).
    void add(const std::string& stage, double seconds);
    std::string summary() const;  // "load 0.12 s, layout 0.40 s, ...; total 0.52 s"
    double total() const;
    const std::vector<std::pair<std::string, double>>& stages() const { return stages_; }

private:
    std::vector<std::pair<std::string, double>> stages_;
};

// Measures one stage: adds the time between construction and stop() (or destruction) to
// `timings` (null: measures nothing).
class StageTimer {
public:
    StageTimer(Timings* timings, std::string stage);
    ~StageTimer();
    StageTimer(const StageTimer&) = delete;
    StageTimer& operator=(const StageTimer&) = delete;
    void stop();

private:
    Timings* timings_;
    std::string stage_;
    double start_s_;
};

}  // namespace umt
