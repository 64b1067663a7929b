// Standard MIDI files (formats 0 and 1) <-> Performance.
#pragma once

#include <string>
#include <vector>

#include "umt/core/performance.hpp"

namespace umt {

// Parses SMF bytes; `source` names the file in error messages. Throws umt::Error
// ("<source>: <what is wrong>") on malformed input, never crashes.
Performance parse_midi(const std::string& bytes, const std::string& source);
Performance read_midi(const std::string& path);

// Format-1 SMF: a tempo track (the performance's tempo map, else 120 qpm) and one
// track per (program, channel); sustain pedal as CC64.
std::string write_midi(const Performance& perf, int ticks_per_quarter = 480);
void save_midi(const Performance& perf, const std::string& path);  // atomic

}  // namespace umt
