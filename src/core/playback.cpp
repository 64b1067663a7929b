// Score -> Performance: exact score time in quarters, repeats, ties and graces, then a tempo map to seconds.
#include "umt/core/playback.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "umt/core/error.hpp"

namespace umt {

namespace {

// The longest silence a tie may bridge, in quarters.
const Rational kMaxTieGap(4);

struct MeasureFlags {
    bool forward = false;
    int backward_times = 0;           // 0: no backward repeat
    std::vector<int> ending_numbers;  // ending starts here (left barline)
    bool ending_ends = false;         // ending stops or discontinues here (right barline)
};

// Barlines of all parts merged per measure index: parts normally agree, and a repeat written
// in only one part still governs the whole score.
std::vector<MeasureFlags> measure_flags(const Score& score, size_t n) {
    std::vector<MeasureFlags> flags(n);
    for (const auto& part : score.parts)
        for (size_t i = 0; i < part.measures.size() && i < n; ++i)
            for (const auto& b : part.measures[i].barlines) {
                if (b.repeat == "forward") flags[i].forward = true;
                if (b.repeat == "backward") flags[i].backward_times = std::max(flags[i].backward_times, std::max(2, b.times));
                if (b.ending_type == "start" && flags[i].ending_numbers.empty()) flags[i].ending_numbers = b.ending_numbers;
                if (b.ending_type == "stop" || b.ending_type == "discontinue") flags[i].ending_ends = true;
            }
    return flags;
}

// The order in which measures sound. A backward repeat returns to the last forward repeat (or
// to the measure after the previous completed repeat); on pass p only endings naming p play.
std::vector<size_t> playing_order(const Score& score, size_t n, bool expand) {
    std::vector<size_t> order;
    if (!expand) {
        for (size_t i = 0; i < n; ++i) order.push_back(i);
        return order;
    }
    const auto flags = measure_flags(score, n);
    std::vector<int> jumps(n, 0);
    size_t start = 0;
    int pass = 1;
    bool jumped = false;
    const size_t limit = 16 * n + 64;  // malformed repeat structures must still terminate
    size_t i = 0;
    while (i < n && order.size() < limit) {
        const MeasureFlags& f = flags[i];
        if (f.forward && !jumped && start != i) {
            start = i;
            pass = 1;
        }
        jumped = false;
        if (!f.ending_numbers.empty() &&
            std::find(f.ending_numbers.begin(), f.ending_numbers.end(), pass) == f.ending_numbers.end()) {
            size_t j = i;
            while (j < n && !flags[j].ending_ends) ++j;
            i = (j < n ? j : i) + 1;  // skip the whole ending
            continue;
        }
        order.push_back(i);
        if (f.backward_times > 0 && jumps[i] < f.backward_times - 1) {
            ++jumps[i];
            ++pass;
            i = start;
            jumped = true;
            continue;
        }
        if (f.backward_times > 0 || f.ending_ends) {
            // A repeat section is complete: the next one starts after it.
            jumps[i] = 0;
            start = i + 1;
            pass = 1;
        }
        ++i;
    }
    return order;
}

// How long measure i lasts: the furthest any part's cursor reaches, else the time signature.
std::vector<Rational> measure_lengths(const Score& score, size_t n) {
    std::vector<Rational> len(n);
    for (const auto& part : score.parts)
        for (size_t i = 0; i < part.measures.size() && i < n; ++i) {
            Rational pos, furthest;
            for (const auto& e : part.measures[i].elements) {
                if (const auto* note = std::get_if<Note>(&e)) {
                    if (!note->chord && !note->grace) pos += note->duration;
                } else if (const auto* b = std::get_if<Backup>(&e)) {
                    pos -= b->duration;
                    if (pos < Rational(0)) pos = Rational(0);
                } else if (const auto* f = std::get_if<Forward>(&e)) {
                    pos += f->duration;
                }
                furthest = std::max(furthest, pos);
            }
            len[i] = std::max(len[i], furthest);
        }
    // Empty measures last as long as the time signature says.
    TimeSignature time;
    if (!score.parts.empty()) {
        const Part& part = score.parts.front();
        for (size_t i = 0; i < n; ++i) {
            if (i < part.measures.size())
                for (const auto& e : part.measures[i].elements)
                    if (const auto* a = std::get_if<Attributes>(&e))
                        if (a->time) time = *a->time;
            if (len[i].is_zero()) len[i] = time.measure_length();
        }
    }
    return len;
}

struct Item {
    Rational onset_q, dur_q;
    int pitch = 60;
    int note_velocity = -1;  // Note::velocity (from <note dynamics>), -1 when absent
    int voice_key = 0;       // staff * 1000 + voice: graces take time from this voice
    int grace_k = -1;        // grace: group index among grace_count groups before onset_q
    int grace_count = 0;
    int chord_id = -1;       // notes struck together in one voice share it
    bool arpeggio = false;   // the chord is rolled (<arpeggiate>)
    bool slashed = false;    // grace: acciaccatura
    int trem_kind = 0;       // 0 none, 1 single-note tremolo, 2 two-note start, 3 two-note stop
    int trem_marks = 0;
    Rational trem_scale{1};  // a tremolo in a tuplet repeats at the tuplet's pace (normal/actual)
};

// Tremolos written as one note (or chord) with strokes, or as two alternating notes, sound as
// repeated notes of 1/2^marks quarter (1 stroke = eighths, 3 = 32nds) filling the written span.
std::vector<Item> expand_tremolos(const std::vector<Item>& items) {
    std::vector<Item> out;
    out.reserve(items.size());
    // Chord members of one group are contiguous and in creation order.
    auto group_end = [&](size_t i) {
        size_t j = i + 1;
        while (j < items.size() && items[j].chord_id == items[i].chord_id && items[j].grace_k < 0) ++j;
        return j;
    };
    size_t i = 0;
    while (i < items.size()) {
        const Item& it = items[i];
        if (it.grace_k >= 0 || it.trem_kind == 0 || it.trem_marks <= 0 || it.trem_marks > 8 || it.trem_kind == 3) {
            out.push_back(it);
            ++i;
            continue;
        }
        const Rational unit = Rational(1, 1 << it.trem_marks) * it.trem_scale;
        const size_t a_end = group_end(i);
        size_t b_begin = a_end, b_end = a_end;
        Rational span = it.dur_q;
        if (it.trem_kind == 2) {
            // The partner is the next non-grace group of the same voice marked "stop", starting
            // where this one ends.
            while (b_begin < items.size() && (items[b_begin].grace_k >= 0 || items[b_begin].voice_key != it.voice_key))
                ++b_begin;
            if (b_begin < items.size() && items[b_begin].trem_kind == 3 &&
                items[b_begin].onset_q == it.onset_q + it.dur_q) {
                b_end = group_end(b_begin);
                span = it.dur_q + items[b_begin].dur_q;
            } else {
                b_begin = b_end = a_end;
            }
        }
        const Rational count_r = span / unit;
        const bool two = b_end > b_begin;
        if (count_r.den() != 1 || count_r.num() < (two ? 2 : 1) || count_r.num() > 4096) {
            // Strokes that do not divide the span evenly: play as written.
            for (size_t k = i; k < a_end; ++k) out.push_back(items[k]);
            i = a_end;
            continue;
        }
        // Graces (or other voices) standing between the two groups stay as they are.
        for (size_t k = a_end; k < b_begin; ++k) out.push_back(items[k]);
        for (int64_t r = 0; r < count_r.num(); ++r) {
            const bool second = two && (r % 2 == 1);
            const size_t from = second ? b_begin : i, to = second ? b_end : a_end;
            for (size_t k = from; k < to; ++k) {
                Item rep = items[k];
                rep.onset_q = it.onset_q + unit * Rational(r);
                rep.dur_q = unit;
                rep.trem_kind = 0;
                rep.arpeggio = false;
                rep.chord_id = items[k].chord_id * 4096 + static_cast<int>(r);
                out.push_back(rep);
            }
        }
        i = two ? b_end : a_end;
    }
    return out;
}

int mark_velocity(const std::string& mark) {
    // MuseScore's defaults, so that renderings compare with its MIDI export.
    static const std::map<std::string, int> v = {
        {"pppppp", 1}, {"ppppp", 5}, {"pppp", 10}, {"ppp", 16}, {"pp", 33}, {"p", 49}, {"mp", 64},
        {"mf", 80}, {"f", 96}, {"ff", 112}, {"fff", 126}, {"ffff", 127}, {"fffff", 127}, {"ffffff", 127},
        {"fp", 96}, {"sf", 112}, {"sfz", 112}, {"sff", 126}, {"sffz", 126}, {"sfp", 112}, {"rfz", 112}, {"fz", 96}};
    auto it = v.find(mark);
    return it == v.end() ? -1 : it->second;
}

int percent_to_velocity(double percent) {
    // MusicXML: dynamics="100" is forte, which is velocity 90.
    return std::clamp(static_cast<int>(std::lround(percent * 0.9)), 1, 127);
}

class TempoMap {
public:
    explicit TempoMap(double default_qpm) { points_.push_back({Rational(0), default_qpm, 0.0}); }
    void set(const std::map<Rational, double, std::less<>>& changes) {
        for (const auto& [q, qpm] : changes) {
            if (qpm <= 0) continue;
            if (q.is_zero()) {
                points_.front().qpm = qpm;
                continue;
            }
            const double s = seconds(q);
            points_.push_back({q, qpm, s});
        }
    }
    double seconds(const Rational& q) const {
        const Point* p = &points_.front();
        for (const auto& pt : points_)
            if (pt.q <= q) p = &pt;
        return p->s + (q - p->q).to_double() * 60.0 / p->qpm;
    }
    std::vector<TempoChange> changes() const {
        std::vector<TempoChange> out;
        for (const auto& p : points_)
            if (out.empty() || out.back().qpm != p.qpm) out.push_back({p.s, p.qpm});
        return out;
    }

private:
    struct Point { Rational q; double qpm; double s; };
    std::vector<Point> points_;
};

// One key cannot be down twice on one channel: a note struck while the same key sounds (a
// unison of two voices, a tie into a note another voice strikes) is absorbed by the sounding
// note, which is held until the later of both ends.
void merge_unisons(std::vector<NoteEvent>& notes) {
    constexpr double eps = 1e-9;
    std::vector<size_t> idx(notes.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
        const NoteEvent &x = notes[a], &y = notes[b];
        if (x.channel != y.channel) return x.channel < y.channel;
        if (x.pitch != y.pitch) return x.pitch < y.pitch;
        if (x.onset_s != y.onset_s) return x.onset_s < y.onset_s;
        return x.offset_s > y.offset_s;
    });
    std::vector<bool> drop(notes.size(), false);
    size_t held = notes.size();  // the sounding note of the current (channel, pitch)
    for (size_t i : idx) {
        NoteEvent& n = notes[i];
        if (held < notes.size()) {
            NoteEvent& h = notes[held];
            if (h.channel == n.channel && h.pitch == n.pitch && n.onset_s < h.offset_s - eps) {
                h.offset_s = std::max(h.offset_s, n.offset_s);
                drop[i] = true;
                continue;
            }
        }
        held = i;
    }
    size_t w = 0;
    for (size_t i = 0; i < notes.size(); ++i)
        if (!drop[i]) notes[w++] = notes[i];
    notes.resize(w);
}

}  // namespace

Performance render_score(const Score& score, const PlaybackOptions& opts) {
    if (opts.part >= static_cast<int>(score.parts.size()))
        throw Error("render_score: part " + std::to_string(opts.part + 1) + " requested but the score has " +
                    std::to_string(score.parts.size()));
    size_t n = 0;
    for (const auto& p : score.parts) n = std::max(n, p.measures.size());
    const std::vector<size_t> order = playing_order(score, n, opts.expand_repeats);
    const std::vector<Rational> lengths = measure_lengths(score, n);
    std::vector<Rational> starts(order.size());
    Rational total;
    for (size_t s = 0; s < order.size(); ++s) {
        starts[s] = total;
        total += lengths[order[s]];
    }

    std::map<Rational, double, std::less<>> tempo_changes;
    std::vector<std::vector<Item>> part_items(score.parts.size());
    std::vector<std::map<Rational, int, std::less<>>> part_dynamics(score.parts.size());

    for (size_t pi = 0; pi < score.parts.size(); ++pi) {
        const Part& part = score.parts[pi];
        std::vector<Item>& items = part_items[pi];
        std::map<int, std::vector<size_t>> tied;  // pitch -> items waiting for a tie stop
        int chord_counter = 0;
        std::optional<Tremolo> chord_trem;
        for (size_t s = 0; s < order.size(); ++s) {
            if (order[s] >= part.measures.size()) continue;
            const Measure& m = part.measures[order[s]];
            const Rational q0 = starts[s];
            Rational pos, chord_onset;
            std::map<int, std::vector<std::vector<const Note*>>> graces;  // voice key -> chord groups
            auto flush_graces = [&](int key, const Rational& principal_q) {
                auto it = graces.find(key);
                if (it == graces.end()) return;
                const int count = static_cast<int>(it->second.size());
                for (int k = 0; k < count; ++k)
                    for (const Note* g : it->second[k]) {
                        if (g->is_rest || (g->cue && !opts.play_cue_notes)) continue;
                        Item item;
                        item.onset_q = principal_q;
                        item.pitch = g->pitch.midi();
                        item.note_velocity = g->velocity;
                        item.voice_key = key;
                        item.grace_k = k;
                        item.grace_count = count;
                        item.slashed = g->grace_slash;
                        items.push_back(item);
                    }
                graces.erase(it);
            };
            for (const auto& e : m.elements) {
                if (const auto* note = std::get_if<Note>(&e)) {
                    const int key = note->staff * 1000 + note->voice;
                    if (note->grace) {
                        auto& groups = graces[key];
                        if (note->chord && !groups.empty()) groups.back().push_back(note);
                        else groups.push_back({note});
                        continue;
                    }
                    Rational onset = note->chord ? chord_onset : pos;
                    if (!note->chord) {
                        chord_onset = pos;
                        pos += note->duration;
                        flush_graces(key, q0 + onset);
                        ++chord_counter;
                        chord_trem = note->tremolo;
                    }
                    if (note->is_rest || (note->cue && !opts.play_cue_notes)) continue;
                    const Rational on_q = q0 + onset;
                    const int pitch = note->pitch.midi();
                    if (pitch < 0 || pitch > 127) continue;
                    // A tie stop extends the note of that pitch which ends exactly here, else
                    // the latest one of the staff that ended shortly before: a tie drawn over a
                    // gap (notes of a broken chord tied into the chord) holds the key until then.
                    if (note->tie_stop || note->tied_stop) {
                        auto& waiting = tied[pitch];
                        auto match = std::find_if(waiting.begin(), waiting.end(), [&](size_t idx) {
                            return items[idx].onset_q + items[idx].dur_q == on_q;
                        });
                        if (match == waiting.end()) {
                            for (auto w = waiting.begin(); w != waiting.end(); ++w) {
                                const Item& cand = items[*w];
                                const Rational end = cand.onset_q + cand.dur_q;
                                if (cand.voice_key / 1000 != key / 1000 || end > on_q || on_q - end > kMaxTieGap)
                                    continue;
                                if (match == waiting.end() || end > items[*match].onset_q + items[*match].dur_q)
                                    match = w;
                            }
                        }
                        if (match != waiting.end()) {
                            const size_t idx = *match;
                            items[idx].dur_q = on_q + note->duration - items[idx].onset_q;
                            if (!(note->tie_start || note->tied_start)) waiting.erase(match);
                            continue;
                        }
                    }
                    Item item;
                    item.onset_q = on_q;
                    item.dur_q = note->duration;
                    item.pitch = pitch;
                    item.note_velocity = note->velocity;
                    item.voice_key = key;
                    item.chord_id = chord_counter;
                    item.arpeggio = note->arpeggiate;
                    if (const auto& tr = note->tremolo ? note->tremolo : chord_trem) {
                        item.trem_kind = tr->type == "single" ? 1 : tr->type == "start" ? 2 : tr->type == "stop" ? 3 : 0;
                        item.trem_marks = tr->marks;
                        // Only for one-note tremolos: the two notes of a two-note tremolo carry a
                        // 2:1 time modification that just halves their written values.
                        if (const auto& tm = note->time_modification;
                            item.trem_kind == 1 && tm && tm->actual > 0 && tm->normal > 0)
                            item.trem_scale = Rational(tm->normal, tm->actual);
                    }
                    items.push_back(item);
                    if (note->tie_start || note->tied_start) {
                        auto& waiting = tied[pitch];
                        // Drop ties that can no longer be continued. Voices come one after the
                        // other in the measure, so a later voice may still continue a tie that
                        // ends before this note: only ties older than the measure plus the
                        // longest gap go.
                        waiting.erase(std::remove_if(waiting.begin(), waiting.end(), [&](size_t idx) {
                                          return items[idx].onset_q + items[idx].dur_q + kMaxTieGap < q0;
                                      }),
                                      waiting.end());
                        waiting.push_back(items.size() - 1);
                    }
                } else if (const auto* b = std::get_if<Backup>(&e)) {
                    pos -= b->duration;
                    if (pos < Rational(0)) pos = Rational(0);
                } else if (const auto* f = std::get_if<Forward>(&e)) {
                    pos += f->duration;
                } else if (const auto* d = std::get_if<Direction>(&e)) {
                    Rational at = q0 + pos + d->offset;
                    if (at < Rational(0)) at = Rational(0);
                    if (d->tempo_qpm && *d->tempo_qpm > 0) tempo_changes[at] = *d->tempo_qpm;
                    int vel = -1;
                    if (d->dynamics) vel = percent_to_velocity(*d->dynamics);
                    else if (!d->dynamic_mark.empty()) vel = mark_velocity(d->dynamic_mark);
                    if (vel > 0) part_dynamics[pi][at] = vel;
                }
            }
            // Graces left at the measure end lead into the next downbeat.
            std::vector<int> keys;
            for (const auto& [key, _] : graces) keys.push_back(key);
            for (int key : keys) flush_graces(key, q0 + lengths[order[s]]);
        }
        if (opts.expand_tremolos) items = expand_tremolos(items);
    }

    TempoMap tempo(opts.default_qpm);
    tempo.set(tempo_changes);
    Performance perf;
    perf.tempos = tempo.changes();
    // Time and key signatures of the played part (the first when all play), in playing order. A
    // measure shorter or longer than its signature (a pickup) is marked with its own length when
    // MIDI can write it, so a reader finds the barlines again.
    if (!score.parts.empty()) {
        const Part& part = score.parts[opts.part >= 0 ? opts.part : 0];
        TimeSignature time;
        std::optional<Key> key;
        MeterChange last{-1.0, 0, 0};
        std::optional<KeyChange> last_key;
        for (size_t s = 0; s < order.size(); ++s) {
            if (order[s] >= part.measures.size()) continue;
            for (const auto& e : part.measures[order[s]].elements)
                if (const auto* a = std::get_if<Attributes>(&e)) {
                    if (a->time) time = *a->time;
                    if (a->key) key = a->key;
                }
            const double at = tempo.seconds(starts[s]);
            MeterChange mc{at, time.beats, time.beat_type};
            const Rational len = lengths[order[s]];
            if (!len.is_zero() && len != time.measure_length()) {
                // len = beats * 4 / beat_type with beat_type a power of two up to 64.
                for (int bt = 4; bt <= 64; bt *= 2) {
                    const Rational beats = len * Rational(bt, 4);
                    if (beats.den() == 1 && beats.num() <= 255) { mc.beats = static_cast<int>(beats.num()); mc.beat_type = bt; break; }
                }
            }
            if (mc.beats != last.beats || mc.beat_type != last.beat_type) {
                perf.meters.push_back(mc);
                last = mc;
            }
            if (key) {
                const KeyChange kc{at, key->fifths, key->mode == "minor"};
                if (!last_key || last_key->fifths != kc.fifths || last_key->minor != kc.minor) {
                    perf.keys.push_back(kc);
                    last_key = kc;
                }
            }
        }
    }
    int next_channel = 0;
    for (size_t pi = 0; pi < score.parts.size(); ++pi) {
        const Part& part = score.parts[pi];
        int channel = part.midi_channel;
        if (channel < 0 || channel > 15) {
            if (next_channel == 9) ++next_channel;
            channel = next_channel % 16;
            ++next_channel;
        }
        if (opts.part >= 0 && static_cast<int>(pi) != opts.part) continue;
        const auto& dyn = part_dynamics[pi];
        auto velocity_at = [&](const Item& it) {
            // Note::velocity is already a MIDI velocity (the reader scaled <note dynamics>).
            if (it.note_velocity >= 0) return std::clamp(it.note_velocity, 1, 127);
            auto d = dyn.upper_bound(it.onset_q);
            if (d == dyn.begin()) return std::clamp(opts.default_velocity, 1, 127);
            return std::prev(d)->second;
        };
        std::map<int, std::vector<size_t>> by_voice;
        std::vector<std::pair<size_t, double>> grace_notes;  // (note index, principal onset)
        // On-beat graces (MuseScore's way) delay their principal notes by the graces' length.
        std::map<std::pair<int, Rational>, int> on_beat_graces;  // (voice, principal onset) -> groups
        // Unslashed graces (appoggiaturas) taking half the principal: (voice, principal onset) ->
        // where each group starts after the beat, in quarters, and (last entry) the principal's delay.
        std::map<std::pair<int, Rational>, std::vector<Rational>> long_graces;
        if (opts.grace_on_beat) {
            std::map<std::pair<int, Rational>, Rational> principal_len;
            std::set<std::pair<int, Rational>> short_ones;
            for (const Item& it : part_items[pi]) {
                const std::pair<int, Rational> at{it.voice_key, it.onset_q};
                if (it.grace_k >= 0) {
                    on_beat_graces[at] = it.grace_count;
                    if (!opts.long_appoggiaturas || it.slashed) {
                        short_ones.insert(at);
                        continue;
                    }
                    long_graces[at].resize(it.grace_count + 1);
                } else {
                    Rational& len = principal_len[at];
                    len = std::max(len, it.dur_q);
                }
            }
            // A group with a slashed grace, or with nothing to lean on, stays short.
            for (auto it = long_graces.begin(); it != long_graces.end();) {
                auto p = principal_len.find(it->first);
                if (short_ones.count(it->first) || p == principal_len.end() || p->second.is_zero()) {
                    it = long_graces.erase(it);
                    continue;
                }
                // The classical rule, as MuseScore 3 plays it: half the principal, two thirds of
                // a dotted one, in equal shares whatever the graces' written values.
                auto& starts = it->second;
                const Rational part = p->second.num() % 3 == 0 ? Rational(2, 3) : Rational(1, 2);
                const Rational share = p->second * part / Rational(static_cast<int64_t>(starts.size() - 1));
                for (size_t k = 0; k < starts.size(); ++k) starts[k] = share * Rational(static_cast<int64_t>(k));
                ++it;
            }
        }
        // Rolled chords: each note's place from the bottom and the roll step in ticks of 1/480.
        std::map<int, std::pair<std::vector<int>, int>> rolls;  // chord id -> (pitches, step)
        if (opts.roll_arpeggios) {
            std::map<int, std::vector<const Item*>> groups;
            for (const Item& it : part_items[pi])
                if (it.grace_k < 0 && it.chord_id >= 0) groups[it.chord_id].push_back(&it);
            for (const auto& [id, members] : groups) {
                if (members.size() < 2 ||
                    std::none_of(members.begin(), members.end(), [](const Item* m) { return m->arpeggio; }))
                    continue;
                std::vector<int> pitches;
                const Item* top = members.front();
                for (const Item* m : members) {
                    pitches.push_back(m->pitch);
                    if (m->pitch > top->pitch) top = m;
                }
                std::sort(pitches.begin(), pitches.end());
                // The roll must fit in the top note: shrink the step by thirds until it does.
                const double top_ticks = top->dur_q.to_double() * 480.0;
                int step = 64;
                while (step > 0 && step * static_cast<double>(pitches.size()) > top_ticks) step = 2 * step / 3;
                rolls[id] = {pitches, step};
            }
        }
        std::map<int64_t, int> roll_used;  // (chord id, pitch) -> notes of it placed so far
        for (const Item& it : part_items[pi]) {
            NoteEvent ev;
            ev.pitch = it.pitch;
            ev.velocity = velocity_at(it);
            ev.program = std::clamp(part.midi_program, 0, 127);
            ev.channel = channel;
            const double principal_s = tempo.seconds(it.onset_q);
            const auto long_grace = long_graces.find({it.voice_key, it.onset_q});
            if (it.grace_k >= 0 && opts.grace_on_beat && long_grace != long_graces.end()) {
                ev.onset_s = tempo.seconds(it.onset_q + long_grace->second[it.grace_k]);
                ev.offset_s = tempo.seconds(it.onset_q + long_grace->second[it.grace_k + 1]);
            } else if (it.grace_k >= 0 && opts.grace_on_beat) {
                ev.onset_s = principal_s + it.grace_k * opts.grace_s;
                ev.offset_s = ev.onset_s + opts.grace_s;
            } else if (it.grace_k >= 0) {
                // Short notes just before the beat; squeezed when the piece starts with them.
                double len = opts.grace_s;
                if (principal_s > 0 && principal_s < len * it.grace_count) len = principal_s / it.grace_count;
                ev.onset_s = std::max(0.0, principal_s - (it.grace_count - it.grace_k) * len);
                ev.offset_s = ev.onset_s + len;
                grace_notes.push_back({perf.notes.size(), principal_s});
            } else {
                ev.onset_s = principal_s;
                ev.offset_s = tempo.seconds(it.onset_q + it.dur_q);
                auto g = on_beat_graces.find({it.voice_key, it.onset_q});
                auto r = rolls.find(it.chord_id);
                // A rolled chord starts its roll on the beat, under the graces (as MuseScore does).
                if (long_grace != long_graces.end() && r == rolls.end())
                    ev.onset_s = tempo.seconds(it.onset_q + long_grace->second.back());
                else if (g != on_beat_graces.end() && r == rolls.end())
                    ev.onset_s = std::min(ev.onset_s + g->second * opts.grace_s, (ev.onset_s + ev.offset_s) / 2);
                if (r != rolls.end()) {
                    const auto& pitches = r->second.first;
                    // Unisons in a chord take successive places.
                    const auto first = std::lower_bound(pitches.begin(), pitches.end(), it.pitch) - pitches.begin();
                    const int64_t rank = first + roll_used[static_cast<int64_t>(it.chord_id) * 128 + it.pitch]++;
                    // 64 ticks at 120 qpm: the roll's speed in seconds does not depend on the tempo.
                    const double shift = r->second.second * static_cast<double>(rank) / 960.0;
                    if (ev.onset_s + shift < ev.offset_s) ev.onset_s += shift;
                }
            }
            if (it.grace_k < 0) by_voice[it.voice_key].push_back(perf.notes.size());
            perf.notes.push_back(ev);
        }
        // Graces take their time from the note that ends at their principal in the same voice.
        for (const auto& [gi, principal_s] : grace_notes) {
            const double g_on = perf.notes[gi].onset_s;
            const int key = part_items[pi][gi - (perf.notes.size() - part_items[pi].size())].voice_key;
            for (size_t idx : by_voice[key]) {
                NoteEvent& prev = perf.notes[idx];
                if (prev.onset_s < g_on && prev.offset_s > g_on && std::abs(prev.offset_s - principal_s) < 1e-9)
                    prev.offset_s = g_on;
            }
        }
    }
    if (opts.merge_unisons) merge_unisons(perf.notes);
    perf.sort();
    return perf;
}

}  // namespace umt
