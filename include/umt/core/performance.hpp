// A performance: timed notes in seconds (what MIDI files, transcription and synthesis share).
#pragma once

#include <string>
#include <vector>

namespace umt {

struct NoteEvent {
    double onset_s = 0.0;
    double offset_s = 0.0;
    int pitch = 60;      // MIDI key number
    int velocity = 80;   // 1..127
    int program = 0;     // General MIDI program, 0-based
    int channel = 0;     // 0-based; 9 is drums
    bool is_drum() const { return channel == 9; }
};

struct PedalEvent {
    double time_s = 0.0;
    bool down = false;   // CC64 >= 64
    int channel = 0;
};

struct TempoChange {
    double time_s = 0.0;
    double qpm = 120.0;
};

// A time signature from the file (MIDI meta 0x58). A score's MIDI also marks an irregular
// measure (a pickup, a short last measure) with its actual length, so the barlines survive.
struct MeterChange {
    double time_s = 0.0;
    int beats = 4;
    int beat_type = 4;
};

// A key signature from the file (MIDI meta 0x59).
struct KeyChange {
    double time_s = 0.0;
    int fifths = 0;
    bool minor = false;
};

struct Performance {
    std::vector<NoteEvent> notes;      // sorted by onset, then pitch
    std::vector<PedalEvent> pedals;    // sorted by time
    std::vector<TempoChange> tempos;   // informational: kept so that MIDI written back keeps its tempo map
    std::vector<MeterChange> meters;   // time signatures, sorted by time (empty: none given)
    std::vector<KeyChange> keys;       // key signatures, sorted by time (empty: none given)
    int ticks_per_quarter = 0;         // the file's resolution (0: not read from a metrical SMF)
    double end_s() const;              // last offset (0 when empty)
    void sort();
    // Notes whose offset is extended while the sustain pedal is held (for evaluation/synthesis).
    Performance with_sustain_applied() const;
};

// Position in quarter notes of a time along a tempo map (120 qpm before the first change or
// when the map is empty), and its inverse. Used to compare and quantize in score time.
double seconds_to_quarters(const std::vector<TempoChange>& tempos, double t_s);
double quarters_to_seconds(const std::vector<TempoChange>& tempos, double quarters);

}  // namespace umt
