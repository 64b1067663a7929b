// LMX (Linearized MusicXML, Mayer et al. ICDAR 2024): vocabulary, linearizer, delinearizer.
//
// The token language is specified in docs/LMX.md; the linearizer reproduces the
// reference implementation (ufal/olimpic-icdar24) token for token.
#pragma once

#include <string>
#include <vector>

#include "umt/core/score.hpp"

namespace umt::lmx {

// The full 224-token vocabulary in a fixed order, grouped as in docs/LMX.md:
// measure; key:fifths:-7..7; time, beats:1..16, beat-type:2,4,8,16; clef:G1..G5,
// C1..C5, F1..F5; print-object:no, grace, grace:slash, chord; pitches C0..B9
// (octave-major, steps C D E F G A B); rest, forward, backup; voice:1..12; note
// types 1024th..maxima, rest:measure; the 29 time modifications in docs/LMX.md order;
// dot; accidentals; stems; staff:1..3; beams; tied/tuplet; notations; tremolos.
// This is also the reference implementation's ALL_TOKENS order. Never reorder:
// model vocabularies are built from it.
const std::vector<std::string>& vocabulary();

// True when `token` is in vocabulary().
bool is_token(const std::string& token);

// Splits LMX text on white space.
std::vector<std::string> tokenize(const std::string& text);

// Joins tokens with single spaces (no trailing newline).
std::string join(const std::vector<std::string>& tokens);

// The whole part as one token sequence.
std::vector<std::string> linearize(const Part& part);

// One token sequence per system (split at <print new-system="yes">); every system
// after the first restates key and clefs (not time) in its first measure.
std::vector<std::vector<std::string>> linearize_systems(const Part& part);

// Tokens -> a part. Lenient: unknown or misplaced tokens are dropped with a message
// appended to `warnings` (when not null); never throws on garbage.
Part delinearize(const std::vector<std::string>& tokens, std::vector<std::string>* warnings = nullptr);

// A one-part score (part name "Piano") around delinearize().
Score delinearize_score(const std::vector<std::string>& tokens, std::vector<std::string>* warnings = nullptr);

}  // namespace umt::lmx
