// MT3-style MIDI event tokens: a fixed vocabulary and segment encode/decode of a Performance.
//
// Vocabulary (ids are contiguous and stable; the unified vocabulary embeds this block):
//   shift:0..kMaxShiftTicks  absolute time in 10 ms ticks from the segment start
//   pitch:0..127             note on (or off, after velocity:0) of that MIDI key
//   velocity:0..127          full MIDI resolution as MT3's piano model uses; 0 = note-off
//   program:0..127           General MIDI program of the following notes (leaves drum mode)
//   tie                      closes the tie section (pitches sounding at the segment start)
//   drum                     following pitches are drum hits (channel 10): onsets only
#pragma once

#include <string>
#include <vector>

#include "umt/core/performance.hpp"

namespace umt::midi_tokens {

constexpr double kTickSeconds = 0.01;
constexpr double kDefaultSegmentSeconds = 10.0;
// The shift range covers one default segment inclusive of its end point (10 s / 10 ms).
constexpr int kMaxShiftTicks = 1000;
constexpr int kNumVelocities = 128;
constexpr double kDrumHitSeconds = 0.05;  // decoded length of a drum hit (no offsets are coded)

// Block starts inside this vocabulary (id = start + value).
constexpr int kShiftStart = 0;
constexpr int kPitchStart = kShiftStart + kMaxShiftTicks + 1;
constexpr int kVelocityStart = kPitchStart + 128;
constexpr int kProgramStart = kVelocityStart + kNumVelocities;
constexpr int kTieId = kProgramStart + 128;
constexpr int kDrumId = kTieId + 1;
constexpr int kVocabSize = kDrumId + 1;

int vocab_size();
std::string token_name(int id);   // "shift:12", "pitch:60", "tie", ...; throws std::out_of_range
int token_id(const std::string& name);  // inverse of token_name; -1 when unknown

using Segment = std::vector<int>;  // token ids

// Splits a performance into segments of segment_s seconds (segment_s <= 10 s so that shifts
// fit). Each segment: the tie section (program + pitch of every note sounding at its start,
// then `tie`), then events by time with offsets before onsets at equal times. Times are
// rounded to 10 ms ticks. Notes that would get zero length after rounding keep one tick.
// Pedals are not coded: pass perf.with_sustain_applied() when the target is what audio sounds like.
std::vector<Segment> encode(const Performance& perf, double segment_s = kDefaultSegmentSeconds);

// One window [start_s, start_s + segment_s) for training pairs cut at arbitrary times; the same
// layout as a segment of encode(). A window with no notes is just `tie`.
Segment encode_window(const Performance& perf, double start_s, double segment_s = kDefaultSegmentSeconds);

// Stitches segments back into notes: a note open at a segment end continues when the next
// segment's tie section names it, else it ends at the segment boundary. Notes still open at
// the end close at the last event time (at least one tick after their onset).
Performance decode(const std::vector<Segment>& segments, double segment_s = kDefaultSegmentSeconds);

// Decodes one segment as a model emits it; robust to malformed streams (out-of-range ids,
// missing tie, pitches without velocity, offsets without onsets, shifts going backwards):
// what cannot be interpreted is dropped, never throws. Times start at start_s.
Performance decode_segment(const Segment& tokens, double start_s = 0.0);

}  // namespace umt::midi_tokens
