// Score -> MIDI and MIDI note dumps in quarter notes, for scripts/checks/check_playback_vs_musescore.py.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "umt/core/error.hpp"
#include "umt/core/playback.hpp"
#include "umt/io/midi.hpp"
#include "umt/io/musicxml.hpp"

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: score_to_midi_tool [--expand-repeats] [--grace-on-beat] [--roll-arpeggios]\n"
                 "                          [--no-tremolos] [--no-merge-unisons] [--strip-graces] [--play-cues]\n"
                 "                          [--long-appoggiaturas] SCORE.mxl OUT.mid\n"
                 "       score_to_midi_tool --notes FILE.mid   (pitch onset_q offset_q per line, the file's tempo map)\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 3 && std::strcmp(argv[1], "--notes") == 0) {
            const umt::Performance p = umt::read_midi(argv[2]);
            for (const auto& n : p.notes)
                std::printf("%d %.6f %.6f\n", n.pitch, umt::seconds_to_quarters(p.tempos, n.onset_s),
                            umt::seconds_to_quarters(p.tempos, n.offset_s));
            return 0;
        }
        umt::PlaybackOptions opts;
        bool strip_graces = false;  // for comparisons that leave grace notes out
        int i = 1;
        for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; ++i) {
            if (std::strcmp(argv[i], "--expand-repeats") == 0) opts.expand_repeats = true;
            else if (std::strcmp(argv[i], "--grace-on-beat") == 0) opts.grace_on_beat = true;
            else if (std::strcmp(argv[i], "--roll-arpeggios") == 0) opts.roll_arpeggios = true;
            else if (std::strcmp(argv[i], "--no-tremolos") == 0) opts.expand_tremolos = false;
            else if (std::strcmp(argv[i], "--no-merge-unisons") == 0) opts.merge_unisons = false;
            else if (std::strcmp(argv[i], "--strip-graces") == 0) strip_graces = true;
            else if (std::strcmp(argv[i], "--play-cues") == 0) opts.play_cue_notes = true;
            else if (std::strcmp(argv[i], "--long-appoggiaturas") == 0) opts.long_appoggiaturas = true;
            else return usage();
        }
        if (argc - i != 2) return usage();
        umt::Score score = umt::read_score(argv[i]);
        if (strip_graces)
            for (auto& part : score.parts)
                for (auto& m : part.measures)
                    m.elements.erase(std::remove_if(m.elements.begin(), m.elements.end(),
                                                    [](const umt::MeasureElement& e) {
                                                        const auto* n = std::get_if<umt::Note>(&e);
                                                        return n && n->grace;
                                                    }),
                                     m.elements.end());
        umt::save_midi(umt::render_score(score, opts), argv[i + 1]);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
