// The trainer's auxiliary targets, checked from C++ so that ctest covers the Python side too:
// scripts/umt_model/targets.py LmxEvents turns an LMX system into the CTC targets of the image
// columns (visible note heads and rests in reading order, a barline after each measure).
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "model_fixture.hpp"
#include "../support/run_umt.hpp"
#include "umt/io/lmx.hpp"

namespace umt {
namespace {

namespace fs = std::filesystem;

// Runs `python -c code scripts_dir args...`; returns its output (stdout and stderr), expecting exit 0.
std::string run_python(const std::string& code, const std::string& args) {
    auto r = testing::run_command(testing::python() + " -c \"" + code + "\" " + testing::scripts_dir() + " " + args);
    EXPECT_EQ(r.rc, 0) << r.output;
    while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
    return r.output;
}

std::string ctc_labels(const std::string& lmx_text) {
    fs::path dir = fs::temp_directory_path() / ("umt-ctc-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
        std::ofstream names(dir / "names.txt");
        for (const auto& t : lmx::vocabulary()) names << t << "\n";
        std::ofstream lmx(dir / "system.lmx");
        lmx << lmx_text << "\n";
    }
    const std::string code =
        "import sys; sys.path.insert(0, sys.argv[1]); from umt_model.targets import LmxEvents; "
        "names = open(sys.argv[2]).read().split(); e = LmxEvents(names); ids = {t: i for i, t in enumerate(names)}; "
        "print(' '.join(e.label(c) for c in e.of([ids[t] for t in open(sys.argv[3]).read().split()])))";
    std::string out = run_python(code, (dir / "names.txt").string() + " " + (dir / "system.lmx").string());
    fs::remove_all(dir);
    return out;
}

TEST(TrainingTargets, CtcTargetsFollowTheScoreLeftToRight) {
    // 3/4, two staves: a chord, a grace note, a dotted quarter; the lower staff after two backups,
    // ending on an invisible rest (keeps time, no target).
    const std::string m1 =
        "measure key:fifths:0 time beats:3 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 "
        "C5 voice:1 quarter staff:1 chord E5 quarter grace G5 eighth D5 quarter dot B4 eighth "
        "backup half backup quarter C3 voice:2 half staff:2 print-object:no rest quarter";
    // a measure rest on top; below, a triplet, a forward, a quarter
    const std::string m2 =
        "measure rest voice:1 rest:measure staff:1 backup half backup quarter "
        "G2 voice:2 eighth 3in2 staff:2 A2 eighth 3in2 B2 eighth 3in2 forward quarter C3 quarter";
    EXPECT_EQ(ctc_labels(m1), "C3 C5 E5 G5 D5 B4 |");
    EXPECT_EQ(ctc_labels(m1 + " " + m2), "C3 C5 E5 G5 D5 B4 | rest G2 A2 B2 C3 |");
}

TEST(TrainingTargets, TokenWeightZeroTrainsTheEncoderOnItsCtcLossAlone) {
    // CTC pretraining of the image stem (train_translator.py --token-loss 0): the loss is the CTC
    // loss and no gradient reaches the decoder; with token weight 1 the decoder's loss is added.
    const std::string code =
        "import sys, torch; sys.path.insert(0, sys.argv[1]); "
        "from umt_model.bundle import load_manifest; from umt_model.network import Translator, default_network; "
        "from umt_model.vocab import LMX, Layout; "
        "vocab = load_manifest(sys.argv[2])['vocabulary']; L = Layout(vocab); torch.manual_seed(0); "
        "m = Translator(vocab, default_network(32, 2, 1, 1, image_stem='pixels', aux_ctc=6)); "
        "px = torch.rand(2, 1, 64, 96); size = torch.tensor([[4, 6], [3, 5]]); tgt = torch.tensor([LMX, LMX]); "
        "tok = L.block_start[LMX] + 5; f = torch.full((2, 5, 4), tok); pos = torch.zeros(2, 5, 2, dtype=torch.long); "
        "ctc = torch.tensor([[1, 3, 3, 2], [4, 5, 0, 0]]); "
        "loss = m(px, size, tgt, f, pos, ctc_targets=ctc, ctc_weight=1.0, token_weight=0.0); loss.backward(); "
        "mem, mask = m.encode_source(px, size, tgt); alone = m.ctc_loss(mem, mask, ctc); "
        "dec = [p.grad for n, p in m.named_parameters() if n.startswith('dec_layers')]; "
        "stem = [p.grad for n, p in m.named_parameters() if n.startswith('pixel_cnn')]; "
        "both = m(px, size, tgt, f, pos, ctc_targets=ctc, ctc_weight=1.0, token_weight=1.0); "
        "print(abs(float(loss) - float(alone)) < 1e-6, all(g is None for g in dec), "
        "all(g is not None and float(g.abs().sum()) > 0 for g in stem), float(both) > float(loss) + 1e-3)";
    EXPECT_EQ(run_python(code, std::string(UMT_SOURCE_DIR) + "/models/default"), "True True True True");
}

TEST(TrainingTargets, CurriculumCanStartAtItsLaterPhases) {
    // --curriculum-from continues a model past its near-task phase: the mixture at the run's start
    // is the curriculum's at that point, and a task subset keeps only its own tasks.
    const std::string code =
        "import sys; sys.path.insert(0, sys.argv[1]); from train_translator import mixture; "
        "print(sorted(mixture('i2a', 0.0, [])), sorted(mixture('i2a', 0.0, [], 0.3)), "
        "sorted(mixture('i2a', 0.5, [], 0.3)), sorted(mixture('i2a', 0.5, ['omr'], 0.3)), "
        "sorted(mixture('a2i', 2.0, [], 0.9)))";
    EXPECT_EQ(run_python(code, ""),
              "['omr'] ['omr', 'synth'] ['i2a', 'omr', 'synth'] ['omr'] ['a2i', 'amt', 'engrave']");
}

TEST(TrainingTargets, WeightAverageFollowsTheStepsAndIsWhatARunShips) {
    // --ema: after steps taken the average is the decayed mean of the weights (the decay ramped up
    // over the first steps); inside applied() the model holds it, after it its own weights again;
    // RUN/model.pt holds the average, RUN/checkpoint.pt the model's weights and the average, and a
    // resumed run's average continues from the checkpoint's.
    const std::string code =
        "import sys, os, tempfile, argparse, torch; sys.path.insert(0, sys.argv[1]); from umt_model import trainer; "
        "import functools; torch.manual_seed(0); m = torch.nn.Linear(3, 2); a = trainer.Average(m, 0.5); a.begin(); "
        "w0 = m.weight.detach().clone(); [(m.weight.data.add_(1.0), a.update()) for n in range(3)]; "
        "d = lambda n: min(0.5, (1 + n) / (10 + n)); "
        "ref = functools.reduce(lambda r, n: d(n) * r + (1 - d(n)) * (w0 + n + 1), range(3), w0); "
        "own = m.weight.detach().clone(); cm = a.applied(); cm.__enter__(); inside = m.weight.detach().clone(); "
        "cm.__exit__(None, None, None); "
        "run = tempfile.mkdtemp(); opt = torch.optim.SGD(m.parameters(), lr=0.1); "
        "trainer.save(run, {'model': m.state_dict(), 'state': {}}, opt, average=a); "
        "shipped = torch.load(os.path.join(run, 'model.pt'))['model']['weight'].float(); "
        "ck = torch.load(os.path.join(run, 'checkpoint.pt')); "
        "m2 = torch.nn.Linear(3, 2); b = trainer.averaging(m2, argparse.Namespace(ema=0.5)); b.load_state_dict(ck['average']); "
        "b.begin(); import shutil; shutil.rmtree(run); "
        "print(torch.allclose(inside, ref), torch.equal(m.weight, own), not torch.allclose(ref, own), "
        "torch.allclose(shipped, ref, atol=1e-3), torch.equal(ck['model']['weight'], own), "
        "b.updates == 3 and torch.allclose(b.shadow[0], ref), trainer.averaging(m2, argparse.Namespace(ema=0)) is None)";
    EXPECT_EQ(run_python(code, ""), "True True True True True True True");
}


TEST(TrainingTargets, AmtFrameTargetsReadBackThroughTheNoteRule) {
    // The frame head's targets (scripts/umt_model/hearing.py frame_targets, 16 ms frames) fed to
    // the note rule as probabilities give back every note that has an onset in the window: onset
    // and offset frames, velocity; a note sounding from the window start (None onset) has no onset
    // to start it; one still sounding at the end lasts to the last frame; a re-struck key is two notes.
    const std::string code =
        "import sys; sys.path.insert(0, sys.argv[1]); import torch; "
        "from umt_model.hearing import frame_targets, notes_of; "
        "y = torch.from_numpy(frame_targets([(60, 0.5, 1.0, 80), (64, None, 2.0, 70), (67, 1.2, None, 100), "
        "(60, 1.5, 1.8, 50), (20, 0.1, 0.2, 60)], 256)); "
        "print([[int(v) for v in n] for n in notes_of(y, 0.5, 0.5).tolist()])";
    EXPECT_EQ(run_python(code, ""), "[[60, 31, 62, 80], [67, 75, 256, 100], [60, 94, 112, 50]]");
}

TEST(TrainingTargets, AmtHarmonicStackPutsEachHarmonicAtItsKey) {
    // scripts/umt_model/hearing.py HarmonicBranch.stack: a 440 Hz tone (A4, key 48 from A0) peaks at
    // key 48's centre bin (3 bins per semitone) in the fundamental's channel (h = 1), at A3's (key 36)
    // in the second harmonic's channel, at A5's (key 60) in the half harmonic's; and the branch's
    // last layer starts at zero, so a continued frame head is unchanged by it.
    const std::string code =
        "import sys, math; sys.path.insert(0, sys.argv[1]); import torch; "
        "from umt_model.hearing import HarmonicBranch; b = HarmonicBranch(4); "
        "t = torch.arange(32768) / 16000.0; x = torch.sin(2 * math.pi * 440.0 * t)[None]; "
        "s = b.stack(x)[0, :, 60]; "
        "print(tuple(s.shape), int(s[1].argmax()), int(s[2].argmax()), int(s[0].argmax()), "
        "float(b(x).abs().max()))";
    EXPECT_EQ(run_python(code, ""), "(8, 264) 145 109 181 0.0");
}

TEST(TrainingTargets, AmtTokenWindowsReadAsNotes) {
    // umt tokens' window format (tie section, then absolute shifts, velocity 0 = offsets) read back
    // as the frame targets' notes: a re-strike ends the sounding note; an open note lasts to the end.
    const std::string code =
        "import sys; sys.path.insert(0, sys.argv[1]); from umt_model.amt_data import notes_from_tokens; "
        "print(notes_from_tokens('program:0 pitch:48 tie program:0 velocity:80 pitch:77 shift:20 velocity:0 "
        "pitch:77 pitch:48 velocity:90 pitch:60 shift:30 pitch:60'.split()))";
    EXPECT_EQ(run_python(code, ""), "[(77, 0.0, 0.2, 80), (48, None, 0.2, 0), (60, 0.2, 0.3, 90), (60, 0.3, None, 90)]");
}

TEST(TrainingTargets, AmtPitchShiftMovesTheToneAndItsNotesTogether) {
    // scripts/umt_model/amt_data.py pitch_shift: an A4 sine shifted 2 semitones up peaks at B4
    // (494 Hz) and is compressed into the first 65536 / 2^(2/12) samples (zeros after them); its
    // notes move 2 keys up and their times shrink by the same factor. Shifted down it peaks at G4,
    // fills the window, the note starting beyond the stretched part is dropped and the one ending
    // beyond it lasts to the window's end. The spectral envelope moves a tone by at most half its
    // range (+-6 dB for 12).
    const std::string code =
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); "
        "from umt_model.amt_data import pitch_shift, spectral_envelope, WINDOW_SAMPLES; "
        "x = np.sin(2 * np.pi * 440.0 * np.arange(WINDOW_SAMPLES) / 16000.0).astype(np.float32); "
        "notes = [(69, 1.0, 2.0, 80), (69, 2.5, 3.8, 60), (72, 3.9, None, 70), (60, None, 0.5, 0)]\n"
        "for k in (2, -2):\n"
        "    y, n, v = pitch_shift(x, notes, k)\n"
        "    hz = np.fft.rfftfreq(v, 1 / 16000.0)[np.abs(np.fft.rfft(y[:v])).argmax()]\n"
        "    r = lambda t: None if t is None else round(t, 3)\n"
        "    print(k, v, round(float(hz)), float(np.abs(y[v:]).max(initial=0)), [(p, r(a), r(b), w) for p, a, b, w in n])\n"
        "g = [float(np.sqrt((spectral_envelope(x, np.random.default_rng(s), 12.0) ** 2).mean() / (x ** 2).mean())) "
        "for s in range(20)]; print(0.5 <= min(g) < 0.9, 1.1 < max(g) <= 2.0)";
    EXPECT_EQ(run_python(code, ""),
              "2 58386 494 0.0 [(71, 0.891, 1.782, 80), (71, 2.227, 3.385, 60), (74, 3.475, None, 70), (62, None, 0.445, 0)]\n"
              "-2 65536 392 0.0 [(67, 1.122, 2.245, 80), (67, 2.806, None, 60), (58, None, 0.561, 0)]\n"
              "True True");
}

TEST(TrainingTargets, GuidedAttentionPlacesFollowTheMusicVoiceByVoice) {
    // scripts/umt_model/guide.py: the header tokens before the first note sit in the header, a note
    // at its onset's share of its measure (measured by the longest voice), its attributes with it;
    // a backup sits where its voice ended; after it the lower staff starts again at the
    // measure's start; the second measure is measure 1. The expected columns put the header (5 + |fifths| + 2 for a time signature staff
    // spaces) first and the measures side by side; the loss is ~0 for attention on the expected
    // column and larger for attention spread over the image.
    const std::string code =
        "import sys, torch; sys.path.insert(0, sys.argv[1]); "
        "from umt_model.guide import reading_places, column_targets, guided_loss; "
        "names = open(sys.argv[2]).read().split(); ids = {t: i for i, t in enumerate(names)}; "
        "lmx = ('measure key:fifths:2 time beats:2 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 '"
        " 'C5 voice:1 quarter staff:1 chord E5 quarter D5 quarter sharp backup half C3 voice:5 half staff:2 '"
        " 'measure rest voice:1 half staff:1').split(); "
        "p = reading_places(names); pl, m, hdr = p([ids[t] for t in lmx]); "
        "at = lambda k: tuple(round(v, 2) for v in pl[k]); "
        "print(m, hdr, at(0), at(6), at(9), at(12), at(14), at(16), at(18), at(19), at(21), at(25), at(26)); "
        "tg, sg = column_targets(p, [[ids[t] for t in lmx]], [49]); "
        "print([round(float(v), 1) for v in tg[0, [0, 9, 16, 21, 26]]], float(sg[0]), bool(torch.isnan(tg[0, len(lmx)]))); "
        "t = len(lmx) + 1; s = 49; c = torch.nan_to_num(tg[0]).round().long().clamp(0, s - 1); "
        "sharp = torch.zeros(1, 1, t, s); sharp[0, 0, torch.arange(t), c] = 1.0; flat = torch.full((1, 1, t, s), 1.0 / s); "
        "a, b = float(guided_loss([sharp], tg, sg)), float(guided_loss([flat], tg, sg)); print(a < 0.01, b > 0.5)";
    fs::path dir = fs::temp_directory_path() / ("umt-guide-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
        std::ofstream names(dir / "names.txt");
        for (const auto& t : lmx::vocabulary()) names << t << "\n";
    }
    std::string out = run_python(code, (dir / "names.txt").string());
    fs::remove_all(dir);
    // header 5 + 2 + 2 = 9 columns of 49: two measures of 20 columns each
    EXPECT_EQ(out,
              "2 9 (-1, 0.0) (-1, 0.0) (0, 0.0) (0, 0.0) (0, 0.0) (0, 0.5) (0, 0.5) (0, 1.0) (0, 0.0) (1, 0.0) (1, 0.0)\n"
              "[4.5, 9.0, 19.0, 9.0, 29.0] 5.0 True\n"
              "True True");
}

}  // namespace
}  // namespace umt
