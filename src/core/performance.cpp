#include "umt/core/performance.hpp"

#include <algorithm>
#include <map>

namespace umt {

namespace {
constexpr double kDefaultTempoQpm = 120.0;  // MIDI's tempo until the first tempo event
}  // namespace

double Performance::end_s() const {
    double end = 0.0;
    for (const auto& n : notes) end = std::max(end, n.offset_s);
    return end;
}

void Performance::sort() {
    std::stable_sort(notes.begin(), notes.end(), [](const NoteEvent& a, const NoteEvent& b) {
        if (a.onset_s != b.onset_s) return a.onset_s < b.onset_s;
        return a.pitch < b.pitch;
    });
    std::stable_sort(pedals.begin(), pedals.end(), [](const PedalEvent& a, const PedalEvent& b) { return a.time_s < b.time_s; });
    std::stable_sort(tempos.begin(), tempos.end(), [](const TempoChange& a, const TempoChange& b) { return a.time_s < b.time_s; });
    std::stable_sort(meters.begin(), meters.end(), [](const MeterChange& a, const MeterChange& b) { return a.time_s < b.time_s; });
    std::stable_sort(keys.begin(), keys.end(), [](const KeyChange& a, const KeyChange& b) { return a.time_s < b.time_s; });
}

Performance Performance::with_sustain_applied() const {
    Performance out = *this;
    out.sort();
    // Pedal intervals per channel.
    std::map<int, std::vector<std::pair<double, double>>> down;
    std::map<int, double> open;
    for (const auto& p : out.pedals) {
        if (p.down && !open.count(p.channel)) open[p.channel] = p.time_s;
        else if (!p.down && open.count(p.channel)) {
            down[p.channel].push_back({open[p.channel], p.time_s});
            open.erase(p.channel);
        }
    }
    double end = out.end_s();
    for (auto& [ch, t] : open) down[ch].push_back({t, end});
    for (auto& n : out.notes) {
        for (const auto& [a, b] : down[n.channel])
            if (n.offset_s >= a && n.offset_s < b) { n.offset_s = b; break; }
    }
    // A sustained note ends when the same key is struck again.
    for (size_t i = 0; i < out.notes.size(); ++i)
        for (size_t j = i + 1; j < out.notes.size(); ++j)
            if (out.notes[j].pitch == out.notes[i].pitch && out.notes[j].channel == out.notes[i].channel) {
                if (out.notes[j].onset_s < out.notes[i].offset_s && out.notes[j].onset_s > out.notes[i].onset_s)
                    out.notes[i].offset_s = out.notes[j].onset_s;
                break;
            }
    return out;
}

double seconds_to_quarters(const std::vector<TempoChange>& tempos, double t_s) {
    double q = 0.0, t = 0.0, qpm = kDefaultTempoQpm;
    for (const auto& tc : tempos) {
        if (tc.time_s >= t_s) break;
        q += (tc.time_s - t) * qpm / 60.0;
        t = tc.time_s;
        qpm = tc.qpm;
    }
    return q + (t_s - t) * qpm / 60.0;
}

double quarters_to_seconds(const std::vector<TempoChange>& tempos, double q_target) {
    double q = 0.0, t = 0.0, qpm = kDefaultTempoQpm;
    for (const auto& tc : tempos) {
        const double q_next = q + (tc.time_s - t) * qpm / 60.0;
        if (q_next >= q_target) break;
        q = q_next;
        t = tc.time_s;
        qpm = tc.qpm;
    }
    return t + (q_target - q) * 60.0 / qpm;
}

}  // namespace umt
