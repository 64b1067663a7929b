// Score -> Performance: how a score sounds when played exactly as written.
#pragma once

#include "umt/core/performance.hpp"
#include "umt/core/score.hpp"

namespace umt {

struct PlaybackOptions {
    bool expand_repeats = false;   // play repeats and voltas (--expand-repeats)
    double default_qpm = 120.0;    // tempo until the first <sound tempo>
    double grace_s = 0.06;         // grace notes: short, taken from before the beat
    bool grace_on_beat = false;    // MuseScore's way instead: graces on the beat, the principal delayed
    // With grace_on_beat: unslashed graces (appoggiaturas) take half the principal's value (two
    // thirds of a dotted one) in equal shares, delaying it by that much (MuseScore 3 does this);
    // slashed ones stay short.
    bool long_appoggiaturas = false;
    bool expand_tremolos = true;   // tremolo strokes sound as repeated (or alternating) notes
    // Rolled chords (<arpeggiate>) spread from the lowest note up, MuseScore 3's way: 1/15 s per
    // note (64 ticks at 120 qpm), less when the chord is too short to hold the roll. Off: the
    // notes keep their written onset.
    bool roll_arpeggios = false;
    // A note struck while the same key already sounds on the channel is absorbed by the
    // sounding note, held until the later end (one key cannot be down twice, and MIDI could
    // not tell the two note-offs apart).
    bool merge_unisons = true;
    // Cue notes (<cue/>) are silent in MusicXML; MuseScore 3 plays them.
    bool play_cue_notes = false;
    int default_velocity = 80;
    int part = -1;                 // -1: all parts; else that part only
};

Performance render_score(const Score& score, const PlaybackOptions& opts = {});

}  // namespace umt
