"""Unit checks of the factory's Python pieces (run by build_dataset_test.cpp): the score
timeline from umt's MIDI, MIDI round trip, LMX system slicing, humanization, augmentation and
discretization shifts. umt is $UMT_EXE, else build/umt."""
import os
import sys
import tempfile
import unittest
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))

import build_dataset  # noqa: E402
from datafactory import audio, build, humanize, images, lmx, midi, musicxml, timeline  # noqa: E402

UMT = build_dataset.find_umt(None)

SCORE = """<?xml version="1.0"?>
<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>
<part id="P1">
<measure number="1"><attributes><divisions>2</divisions><key><fifths>-1</fifths></key><time><beats>2</beats><beat-type>4</beat-type></time>
<staves>2</staves><clef number="1"><sign>G</sign><line>2</line></clef><clef number="2"><sign>F</sign><line>4</line></clef></attributes>
<sound tempo="60"/>
<note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><tie type="start"/><voice>1</voice><type>quarter</type><staff>1</staff></note>
<note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><tie type="stop"/><voice>1</voice><type>quarter</type><staff>1</staff></note>
<backup><duration>4</duration></backup>
<note><pitch><step>F</step><octave>3</octave></pitch><duration>4</duration><voice>5</voice><type>half</type><staff>2</staff></note>
<note><chord/><pitch><step>A</step><octave>3</octave></pitch><duration>4</duration><voice>5</voice><type>half</type><staff>2</staff></note>
</measure>
<measure number="2"><attributes><clef number="2"><sign>G</sign><line>2</line></clef></attributes>
<note><pitch><step>B</step><alter>-1</alter><octave>4</octave></pitch><duration>4</duration><voice>1</voice><type>half</type><staff>1</staff></note>
<backup><duration>4</duration></backup>
<note><rest/><duration>4</duration><voice>5</voice><type>half</type><staff>2</staff></note>
</measure>
<measure number="3">
<note><pitch><step>A</step><octave>4</octave></pitch><duration>4</duration><voice>1</voice><type>half</type><staff>1</staff></note>
<backup><duration>4</duration></backup>
<note><pitch><step>F</step><octave>4</octave></pitch><duration>4</duration><voice>5</voice><type>half</type><staff>2</staff></note>
</measure>
</part></score-partwise>
"""


# A pickup of one quarter in 3/4, then a full measure and a short last one (two quarters).
PICKUP = """<?xml version="1.0"?>
<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>
<part id="P1">
<measure number="0" implicit="yes"><attributes><divisions>1</divisions><time><beats>3</beats><beat-type>4</beat-type></time></attributes>
<note><pitch><step>G</step><octave>4</octave></pitch><duration>1</duration><voice>1</voice><type>quarter</type></note></measure>
<measure number="1"><note><pitch><step>C</step><octave>5</octave></pitch><duration>3</duration><voice>1</voice><type>half</type><dot/></note></measure>
<measure number="2"><note><pitch><step>E</step><octave>5</octave></pitch><duration>2</duration><voice>1</voice><type>half</type></note></measure>
</part></score-partwise>
"""


def write_score(text=SCORE):
    d = tempfile.mkdtemp()
    p = os.path.join(d, "s.musicxml")
    with open(p, "w") as f:
        f.write(text)
    return p


def load_score(text=SCORE):
    return musicxml.load(write_score(text))


def render(text=SCORE):
    p = write_score(text)
    return timeline.render(UMT, p, p[:-len(".musicxml")] + ".mid")


class Timeline(unittest.TestCase):
    def test_measures_ties_and_tempo(self):
        tl = render()
        self.assertEqual(tl.measure_start_q, [0, 2, 4, 6])
        # The tied C5 sounds once, for two quarters; the chord gives two notes.
        c5 = [n for n in tl.notes if n.pitch == 72]
        self.assertEqual(len(c5), 1)
        self.assertEqual(c5[0].duration_q, Fraction(2))
        self.assertEqual(len(tl.notes), 6)
        self.assertEqual([n.pitch for n in tl.notes if tl.measure_at(n.onset_q) == 1], [70])  # B-flat
        self.assertAlmostEqual(tl.seconds_at(Fraction(4)), 4.0)  # 60 qpm

    def test_unison_of_two_voices_sounds_once(self):
        # Measure 3 with the left hand on the right hand's A4: one MIDI key, one note.
        tl = render(SCORE.replace("<step>F</step><octave>4</octave>", "<step>A</step><octave>4</octave>"))
        self.assertEqual(len(tl.notes), 5)
        self.assertEqual(sum(1 for n in tl.notes if n.pitch == 69), 1)

    def test_pickup_and_short_last_measure_agree_with_umts_time_signatures(self):
        tl = render(PICKUP)
        self.assertEqual(tl.measure_start_q, [0, 1, 4, 6])
        self.assertEqual([(n.onset_q, n.pitch) for n in tl.notes], [(0, 67), (1, 72), (4, 76)])
        self.assertAlmostEqual(tl.seconds_at(Fraction(6)), 3.0)  # 120 qpm when none is written
        # Measure starts that disagree with umt's time signatures are an error, not a guess.
        p = write_score(PICKUP)
        timeline.render(UMT, p, p + ".mid")
        with self.assertRaises(ValueError):
            timeline.from_midi(p + ".mid", [0, 3, 6, 8])

    def test_system_breaks(self):
        broken = musicxml.insert_system_breaks(load_score(), [0, 2])
        ms = broken.getroot().find("part").findall("measure")
        self.assertIsNone(ms[0].find("print"))
        self.assertIsNone(ms[1].find("print"))
        self.assertEqual(ms[2].find("print").get("new-system"), "yes")


class Midi(unittest.TestCase):
    def test_round_trip(self):
        notes = [midi.Note(0.0, 0.5, 60, 80), midi.Note(0.25, 1.25, 64, 50), midi.Note(1.0, 1.001, 67, 127)]
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.mid")
            midi.write_midi(p, notes, [(0.1, True), (1.5, False)])
            back, pedals = midi.read_midi(p)
        self.assertEqual([(n.pitch, n.velocity) for n in back], [(60, 80), (64, 50), (67, 127)])
        for a, b in zip(notes, back):
            self.assertAlmostEqual(a.onset_s, b.onset_s, delta=0.0011)
            self.assertGreater(b.offset_s, b.onset_s)
        self.assertEqual(pedals, [(0.1, True), (1.5, False)])  # 1/960 s ticks hold these exactly


class Lmx(unittest.TestCase):
    def test_slice_restates_key_and_clefs(self):
        toks = ("measure key:fifths:-1 time beats:2 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 C5 voice:1 quarter "
                "measure clef:G2 staff:2 B4 voice:1 half measure A4 voice:1 half").split()
        s = lmx.slice_systems(toks, [2, 1])
        self.assertEqual(s[0], toks[:toks.index("A4") - 1])
        # The new system restates the key and both clefs, with the left hand now in treble.
        self.assertEqual(s[1], "measure key:fifths:-1 clef:G2 staff:1 clef:G2 staff:2 A4 voice:1 half".split())
        with self.assertRaises(ValueError):
            lmx.slice_systems(toks, [1, 1])

    def test_check_system_finds_wrong_pairs(self):
        tree = load_score()
        good = "measure key:fifths:-1 clef:G2 staff:1 clef:G2 staff:2 B4 voice:1 half backup half rest voice:5 half".split()
        self.assertEqual(lmx.check_system(good, tree, 1, 1), [])
        self.assertTrue(lmx.check_system(good, tree, 2, 1))   # measure 3 holds A4, F4
        self.assertTrue(lmx.check_system(good, tree, 1, 2))   # wrong measure count


class Humanize(unittest.TestCase):
    def test_deterministic_monotone_and_complete(self):
        tl = render()
        a = humanize.perform(tl, np.random.default_rng(3))
        b = humanize.perform(tl, np.random.default_rng(3))
        self.assertEqual([(n.onset_s, n.pitch, n.velocity) for n in a[0]], [(n.onset_s, n.pitch, n.velocity) for n in b[0]])
        self.assertEqual(len(a[0]), len(tl.notes))
        warp = a[2]
        starts = [warp(q) for q in tl.measure_start_q]
        self.assertTrue(all(x < y for x, y in zip(starts, starts[1:])))
        self.assertTrue(all(1 <= n.velocity <= 127 and n.offset_s > n.onset_s for n in a[0]))

    def test_midi_tokens(self):
        notes = [midi.Note(0.0, 1.0, 60, 80), midi.Note(0.0, 1.0, 64, 80), midi.Note(9.5, 10.5, 67, 90)]
        # tie section "tie"; shift 0, velocity, 60, 64; shift 100, velocity 0, 60, 64; shift 950, velocity 90, 67
        self.assertEqual(build.midi_event_tokens(notes, 0.0, 10.0), 1 + 4 + 4 + 3)
        # The second window opens with 67 still sounding: one tie-section pitch + "tie".
        self.assertEqual(build.midi_event_tokens(notes, 10.0, 20.0), 2 + 3)


class Augmentation(unittest.TestCase):
    def test_audio_augment_is_seeded_and_bounded(self):
        rate = 16000
        x = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32) * 0.5
        y1, p1 = audio.augment(x, rate, np.random.default_rng(1), force_reverb=True)
        y2, _ = audio.augment(x, rate, np.random.default_rng(1), force_reverb=True)
        self.assertTrue(np.array_equal(y1, y2))
        self.assertIn("reverb_rt60_s", p1)
        self.assertLessEqual(np.max(np.abs(y1)), 10 ** (-1 / 20) + 1e-6)
        self.assertEqual(len(y1), len(x))

    def test_shifts(self):
        rng = np.random.default_rng(0)
        img = np.zeros((32, 48), np.uint8)
        seen = set()
        for _ in range(30):
            out, (dx, dy) = images.shift_image(img, 15, rng)
            self.assertEqual(out.shape, (32 + dy, 48 + dx))
            self.assertTrue((out[dy:, dx:] == 0).all() and (out[:dy] == 255).all())
            seen.add(dx)
        self.assertGreater(len(seen), 5)
        x = np.arange(1000, dtype=np.float32)
        y, k = audio.shift_samples(x, 511, rng)
        self.assertEqual(y[0], k)

    def test_scan_augment_degrades_but_keeps_ink(self):
        page = np.full((200, 300), 255, np.uint8)
        page[100:102, 20:280] = 0  # a staff line
        deg, p = images.scan_augment(page, np.random.default_rng(4))
        self.assertEqual(deg.shape, page.shape)
        self.assertLess(deg[95:107, 140:160].min(), 120)  # the line is still dark
        self.assertGreater(np.median(deg), 150)           # the paper is still light
        self.assertFalse(np.array_equal(deg, page))


class OmrPack(unittest.TestCase):
    """scripts/pack_omr.py's quantized images and train_omr.py's numpy collation."""

    def test_quantized_images_read_back(self):
        import pack_omr
        import train_omr
        gray = np.random.default_rng(1).integers(0, 256, size=(37, 53)).astype(np.uint8)
        for levels in (2, 4):
            step = 255.0 / (levels - 1)
            want = (np.round(gray / step) * step).round().astype(np.uint8)
            got = train_omr.read_image(pack_omr.encode(gray, levels))
            np.testing.assert_array_equal(got, want)

    def test_collate_ink_equals_collate_pixels(self):
        import json
        import torch
        import train_omr
        from umt_model.data import Frames, collate_pixels
        from umt_model.vocab import LMX, Layout
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "default",
                               "manifest.json")) as f:
            layout = Layout(json.load(f)["vocabulary"])
        frames = Frames(layout)
        rng = np.random.default_rng(2)
        inks = [train_omr.Ink(rng.integers(0, 256, size=(h, w)).astype(np.uint8)) for h, w in ((40, 70), (70, 33))]
        streams = [frames.stream(LMX, list(rng.integers(1, 50, size=n))) for n in (5, 9)]
        a = train_omr.collate_ink(inks, streams)
        b = collate_pixels([((x, None), s) for x, s in zip(inks, streams)], LMX)
        self.assertTrue(torch.equal(a[0].float() / 255.0, b[0]))
        for x, y in zip(a[1:], b[1:]):
            self.assertTrue(torch.equal(x, y))

    def test_ctc_best_paths_merge_repeats_drop_blanks_and_padding(self):
        import torch
        from umt_model.targets import collapse_ctc, ctc_best_paths
        self.assertEqual(collapse_ctc([0, 3, 3, 0, 3, 5, 5, 0, 0, 1]), [3, 3, 5, 1])
        self.assertEqual(collapse_ctc([0, 0]), [])

        class Head:  # the model's CTC head: 2 sub-positions per encoder position, 4 classes
            ctc_classes = 4

            @staticmethod
            def ctc(memory):
                return memory

        # row 0: positions (2 3)(3 0) then padding that would read 1; row 1: (1 1)(0 2)(2 2)
        best = [[[2, 3], [3, 0], [1, 1]], [[1, 1], [0, 2], [2, 2]]]
        memory = torch.nn.functional.one_hot(torch.tensor(best), 4).float().view(2, 3, 8)
        mask = torch.tensor([[True, True, False], [True, True, True]])
        self.assertEqual(ctc_best_paths(Head, memory, mask), [[2, 3], [1, 2]])


class DenseHeads(unittest.TestCase):
    """The dense OMR target: verovio's note heads and rests read from its SVG (staff, place in half
    staff spaces below the top line), their columns in a (moved) image, and the head's loss."""

    def test_svg_heads_are_where_the_score_puts_them(self):
        import json
        import subprocess
        from datafactory import engrave
        if not engrave.verovio_available():
            self.skipTest("verovio is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            src, svg, marks = (os.path.join(tmp, n) for n in ("a.musicxml", "a.svg", "a.json"))
            with open(src, "w") as f:
                f.write(SCORE)
            with open(os.path.join(tmp, "jobs.json"), "w") as f:
                json.dump([{"in": src, "out": svg, "heads": marks, "options": {"breaks": "none"}}], f)
            r = subprocess.run(["node", os.path.join(engrave.HERE, "verovio_batch.js"), os.path.join(tmp, "jobs.json")],
                               capture_output=True, text=True, timeout=120)
            self.assertNotIn("FAILED", r.stdout)
            with open(marks) as f:
                got = json.load(f)
        # C5 C5 (treble: 3) | F3 A3 (bass: 2, 0) | Bb4 (4); the second staff's clef turns to G: F4 (7)
        self.assertEqual(sorted((s, p) for _, s, p in got["heads"]),
                         sorted([(1, 3), (1, 3), (2, 2), (2, 0), (1, 4), (1, 5), (2, 7)]))
        self.assertEqual([s for _, s in got["rests"]], [2])
        x = {(s, p): x for x, s, p in got["heads"]}
        self.assertAlmostEqual(x[(2, 2)], x[(2, 0)], delta=1.0)  # a chord's heads share a column
        self.assertLess(x[(2, 0)], x[(1, 4)])
        self.assertLess(x[(1, 4)], got["rests"][0][0] + 1.5 * got["space"])
        self.assertLess(x[(1, 4)], x[(1, 5)])
        self.assertGreater(got["space"], 0)

    def test_head_map_columns_classes_and_moves(self):
        from umt_model.targets import HeadMap
        hm = HeadMap(column_px=8)
        marks = {"heads": [[12.0, 1, 0], [12.0, 2, 30], [40.0, 3, 1]], "rests": [[20.0, 2]]}
        t = hm.of(marks, 6)
        self.assertEqual(t.shape, (6, hm.classes))
        self.assertEqual(sorted(zip(*np.nonzero(t))), sorted([(1, hm.head_class(1, 0)), (1, hm.head_class(2, hm.HIGH)),
                                                              (2, hm.rest_class(2))]))  # staff 3 left out
        moved = hm.of(marks, 6, x_scale=2.0, x_shift=3.0)  # 12 -> 27, 20 -> 43
        self.assertEqual(sorted(zip(*np.nonzero(moved))), sorted([(3, hm.head_class(1, 0)), (3, hm.head_class(2, hm.HIGH)),
                                                                  (5, hm.rest_class(2))]))
        self.assertTrue((hm.of(None, 4) == -1).all())
        self.assertEqual(hm.label(hm.head_class(2, -3)), "2:-3")

    def test_head_loss_counts_known_columns_only(self):
        import torch
        from umt_model.network import Translator

        class Net:
            head_map = staticmethod(lambda m: m)

        logits = torch.tensor([[[2.0, -1.0], [0.5, 0.0], [9.0, 9.0]], [[-3.0, 4.0], [1.0, 1.0], [0.0, 0.0]]])
        targets = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[-1.0, -1.0], [-1.0, -1.0], [-1.0, -1.0]]])
        mask = torch.tensor([[True, True, False], [True, True, True]])
        got = Translator.head_loss(Net, logits, mask, targets)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits[0, :2], targets[0, :2], reduction="sum") / 2
        self.assertAlmostEqual(float(got), float(bce), places=5)


class GuideAlignment(unittest.TestCase):
    """The CTC head's forced alignment (Viterbi) and the guide's columns taken from it."""

    def test_forced_frames_are_the_best_path_that_reads_the_targets(self):
        import itertools
        import torch
        from umt_model.targets import collapse_ctc, ctc_forced_frames
        rng = torch.Generator().manual_seed(3)
        logp = torch.randn(3, 6, 4, generator=rng).log_softmax(-1)
        targets, lengths = [[2, 2], [3, 1, 3], [1]], [6, 6, 4]
        got = ctc_forced_frames(logp, targets, lengths)
        for k, (t, n) in enumerate(zip(targets, lengths)):
            best, first = None, None
            for path in itertools.product(range(4), repeat=n):
                if collapse_ctc(list(path)) != t:
                    continue
                score = float(sum(logp[k, i, c] for i, c in enumerate(path)))
                if best is None or score > best:
                    starts = [i for i, c in enumerate(path) if c != 0 and (i == 0 or path[i - 1] != c)]
                    best, first = score, starts
            self.assertEqual(got[k], first, f"row {k}")
        # [2, 2] needs a blank between: 3 frames; 2 do not fit. No targets: nothing to place.
        self.assertEqual(ctc_forced_frames(logp[:2], [[2, 2], []], [2, 6]), [None, []])

    def test_aligned_columns_follow_the_events(self):
        from umt_model.guide import aligned_columns
        from umt_model.targets import LmxEvents, lmx_names
        names = lmx_names(UMT)
        ids = {t: i for i, t in enumerate(names)}
        text = "measure clef:G2 C5 quarter chord E5 quarter rest quarter measure D5 half"
        seq = [ids[t] for t in text.split()]
        events = LmxEvents(names)
        read = events.indexed(seq)
        self.assertEqual([i for _, i in read], [2, 5, 7, 9, 10, None])  # C5 and E5 (a chord), the rest, barlines
        self.assertEqual([c for c, _ in read], events.of(seq))
        got = aligned_columns([read], names, [seq], [[8, 9, 20, 30, 40, 50]], 8)[0].tolist()
        nan = float("nan")
        want = [nan, nan, 1.5, 1.5, 1.5, 1.5, 1.5, 2.5, 2.5, 3.5, 5.5, 5.5, nan]
        self.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            self.assertTrue(g == w or (g != g and w != w), f"{got} != {want}")
        unguided = aligned_columns([read], names, [seq], [None], 8)[0]
        self.assertTrue(bool(unguided.isnan().all()))

    def test_timing_reads_the_same_events_by_their_written_durations(self):
        from umt_model.targets import DURATIONS, LmxEvents, lmx_names
        names = lmx_names(UMT)
        ids = {t: i for i, t in enumerate(names)}
        text = ("measure clef:G2 C5 quarter dot chord E5 quarter dot rest eighth measure D5 voice:1 half "
                "backup half G4 16th measure rest rest:measure")
        seq = [ids[t] for t in text.split()]
        events = LmxEvents(names)
        self.assertEqual(events.duration_classes, 2 + len(DURATIONS))
        heads, timed = events.indexed(seq), events.indexed(seq, timing=True)
        self.assertEqual([events.label(c) for c, _ in heads],
                         ["C5", "E5", "rest", "|", "G4", "D5", "|", "rest", "|"])
        self.assertEqual([events.duration_labels[c] for c, _ in timed],
                         ["quarter.", "quarter.", "eighth", "|", "16th", "half", "|", "rest:measure", "|"])
        self.assertEqual([i for _, i in timed], [3, 7, 10, 11, 18, 14, 19, 21, None])  # type tokens, barlines
        self.assertEqual(events.timing(seq), [c for c, _ in timed])

    def test_duration_columns_mark_each_events_duration_at_its_column(self):
        from umt_model.targets import DURATIONS, LmxEvents, duration_columns, lmx_names
        names = lmx_names(UMT)
        ids = {t: i for i, t in enumerate(names)}
        seq = [ids[t] for t in "measure C5 quarter dot chord E5 quarter dot rest eighth measure G4 16th".split()]
        events = LmxEvents(names)
        # events: C5, E5 (one column), the rest, a barline, G4, the last barline; 8 frames per column
        got = duration_columns(events, [seq, seq], [[9, 10, 20, 30, 41, 47], None], 6, 8)
        self.assertEqual(tuple(got.shape), (2, 6, len(DURATIONS)))
        on = {(int(c), DURATIONS[int(k)]) for c, k in got[0].nonzero().tolist()}
        self.assertEqual(on, {(1, "quarter."), (2, "eighth"), (5, "16th")})  # barlines mark nothing
        self.assertTrue(bool((got[1] == -1).all()))  # not aligned: unknown, left out of the loss


class BandTraining(unittest.TestCase):
    """What the OMR trainer does differently for band-layout images, and the cross positions' keys."""

    def test_band_images_move_by_at_most_a_pixel_and_keep_their_height(self):
        import train_omr
        img = np.full((224, 96), 255, np.uint8)
        img[40] = 0  # the first staff's top line
        moved = set()
        for seed in range(40):
            out, scale, shift = train_omr.augment(img, np.random.default_rng(seed), bands=5)
            self.assertEqual(out.shape[0], 224)
            darkest = int(np.argmin(out[:, 16:].astype(np.float32).mean(1)))  # past the drawn left shift
            self.assertTrue(39 <= darkest <= 41, f"seed {seed}: the line is on row {darkest}")
            moved.add(darkest)
        self.assertGreater(len(moved), 1)  # it does move, by a pixel
        self.assertTrue(any(train_omr.augment(img, np.random.default_rng(s))[0].shape[0] > 224 for s in range(10)),
                        "cut systems still move by up to 7 rows")

    def test_one_layout_per_run(self):
        import train_omr
        self.assertEqual(train_omr.one_layout({5}, "x"), 5)
        self.assertEqual(train_omr.one_layout(set(), "x"), 0)
        with self.assertRaises(SystemExit):
            train_omr.one_layout({0, 5}, "x")

    def test_cross_positions_project_once(self):
        import torch
        from umt_model.network import Attention, sinusoids
        torch.manual_seed(0)
        att = Attention(32, 4)
        x = torch.randn(2, 11, 32)
        pe = sinusoids(11, 32, x.device)[None]
        gates = torch.tensor([0.7, 0.2])
        k, _ = att.project_kv(x + gates[0] * pe)
        _, v = att.project_kv(x + gates[1] * pe)
        k1, v1 = att.project_kv_placed(x, pe, gates[0:1], gates[1:2])
        self.assertLess(float((k - k1).abs().max()), 1e-5)
        self.assertLess(float((v - v1).abs().max()), 1e-5)


def tiny_pixels8(**options):
    """A tiny pixels8 network (width 32, 2 heads, 1 encoder and 2 decoder layers, cross positions) with
    the given default_network options, seed 3, in eval mode: the decoder options' tests build on it."""
    import torch
    from umt_model.network import Translator, default_network
    from umt_model.vocab import default_params
    vocab = default_params(lmx_size=40, midi_size=40, image_codebook_size=16, audio_codebook_size=16,
                           max_height=14, max_lengths={"lmx": 64, "midi": 64, "image": 128, "audio": 64,
                                                       "image_columns": 64})
    torch.manual_seed(3)
    return Translator(vocab, default_network(32, 2, 1, 2, image_stem="pixels8", cross_positions=True, **options)).eval()


class CtcValues(unittest.TestCase):
    """The ctc_values option: the CTC head's column reading enters the decoder's keys and values."""

    def network(self, on):
        return tiny_pixels8(aux_ctc=9, ctc_values=on)

    def test_fresh_it_changes_nothing_trained_it_changes_the_keys_and_values_and_scripts(self):
        import torch
        plain, read = self.network(False), self.network(True)
        read.load_state_dict(plain.state_dict(), strict=False)
        px = (torch.rand(2, 1, 224, 160, generator=torch.Generator().manual_seed(5)) > 0.9).float()
        size = torch.tensor([[14, 10], [14, 7]])
        with torch.no_grad():
            memory, _ = plain.encode_pixels(px, size, torch.ones(2, dtype=torch.long))
            a, b = plain.init_cross(memory), read.init_cross(memory)
            self.assertLess(max(float((x[0] - y[0]).abs().max()) for x, y in zip(a, b)), 1e-6)
            torch.nn.init.normal_(read.ctc_val.weight)
            c = read.init_cross(memory)
            self.assertGreater(min(float((x[1] - y[1]).abs().max()) for x, y in zip(a, c)), 1e-3)
            d = torch.jit.script(read).init_cross(memory)
            self.assertLess(max(float((x[1] - y[1]).abs().max()) for x, y in zip(c, d)), 1e-5)


class LocateDecoding(unittest.TestCase):
    """The locate option: the column the decoder looked at on the step before is its input's, kept in
    the decoding cache; a fresh projection changes nothing; the exported module decodes the same."""

    def network(self, locate):
        return tiny_pixels8(locate=locate)

    def inputs(self, model):
        import torch
        g = torch.Generator().manual_seed(5)
        px = (torch.rand(2, 1, 224, 160, generator=g) > 0.9).float()
        size = torch.tensor([[14, 10], [14, 7]])
        memory, mask = model.encode_pixels(px, size, torch.ones(2, dtype=torch.long))
        frames = torch.randint(5, 40, (2, 7, 4), generator=g)
        pos = torch.zeros(2, 7, 2, dtype=torch.long)
        pos[:, :, 0] = torch.arange(7)
        return model.init_cross(memory), mask, frames, pos

    def test_cached_steps_equal_one_uncached_pass_and_the_cache_keeps_the_column(self):
        import torch
        model = self.network(1)
        torch.nn.init.normal_(model.loc_proj.weight)
        with torch.no_grad():
            cross, mask, frames, pos = self.inputs(model)
            whole, _ = model.decode_step(frames, pos, cross, mask, [])
            cache, steps = [], []
            for j in range(frames.size(1)):
                h, cache = model.decode_step(frames[:, j:j + 1], pos[:, j:j + 1], cross, mask, cache)
                steps.append(h)
                self.assertEqual(len(cache), 3)  # two layers, then the column
                col = cache[2][0]
                self.assertEqual(tuple(col.shape), (2, 1))
                self.assertTrue(bool(((col >= 0) & (col < mask.sum(1, keepdim=True))).all()))
            self.assertLess(float((whole - torch.cat(steps, 1)).abs().max()), 1e-5)
            # the column matters: told other columns, the same frames give other states
            told, _, _ = model.decode_layers(frames, pos, cross, mask, [], torch.full((2, 7), 5.0))
            self.assertGreater(float((told - whole).abs().max()), 1e-3)
            scripted = torch.jit.script(model)
            again, _ = scripted.decode_step(frames, pos, cross, mask, [])
            self.assertLess(float((again - whole).abs().max()), 1e-5)

    def test_a_fresh_projection_leaves_the_network_as_it_was(self):
        import torch
        plain, located = self.network(0), self.network(1)
        located.load_state_dict(plain.state_dict(), strict=False)
        with torch.no_grad():
            cross, mask, frames, pos = self.inputs(plain)
            a, _ = plain.decode_step(frames, pos, cross, mask, [])
            b, _ = located.decode_step(frames, pos, cross, mask, [])
        self.assertLess(float((a - b).abs().max()), 1e-5)


class SelfWindow(unittest.TestCase):
    """The self_window option: the decoder's self-attention sees its last N tokens and its first S;
    cached steps give what one pass gives, and a token outside the sink changes nothing beyond
    (N - 1) x layers tokens after it."""

    def test_window_and_sink_hold_cached_uncached_and_scripted(self):
        import torch
        model = tiny_pixels8(self_window=3, self_sink=2)
        g = torch.Generator().manual_seed(5)
        px = (torch.rand(2, 1, 224, 160, generator=g) > 0.9).float()
        with torch.no_grad():
            memory, mask = model.encode_pixels(px, torch.tensor([[14, 10], [14, 7]]), torch.ones(2, dtype=torch.long))
            cross = model.init_cross(memory)
            frames = torch.randint(5, 40, (2, 9, 4), generator=g)
            pos = torch.zeros(2, 9, 2, dtype=torch.long)
            pos[:, :, 0] = torch.arange(9)
            whole, _ = model.decode_step(frames, pos, cross, mask, [])
            cache, steps = [], []
            for j in range(9):
                h, cache = model.decode_step(frames[:, j:j + 1], pos[:, j:j + 1], cross, mask, cache)
                steps.append(h)
            self.assertLess(float((whole - torch.cat(steps, 1)).abs().max()), 1e-5)
            other = frames.clone()
            other[:, 3] = (other[:, 3] + 1) % 40  # token 3: outside the sink (0, 1); each layer reaches 2 further
            changed, _ = model.decode_step(other, pos, cross, mask, [])
            self.assertLess(float((changed[:, 8:] - whole[:, 8:]).abs().max()), 1e-5)
            self.assertGreater(float((changed[:, 7] - whole[:, 7]).abs().max()), 1e-4)
            first = frames.clone()
            first[:, 1] = (first[:, 1] + 1) % 40  # token 1: in the sink, seen by every later token
            self.assertGreater(float((model.decode_step(first, pos, cross, mask, [])[0][:, 8] - whole[:, 8]).abs().max()), 1e-4)
            again, _ = torch.jit.script(model).decode_step(frames, pos, cross, mask, [])
            self.assertLess(float((again - whole).abs().max()), 1e-5)


class CopyCtc(unittest.TestCase):
    """The copy_ctc option: the CTC head's column reading under the guided heads enters the decoder's
    final state; a fresh projection changes nothing; cached, uncached and scripted steps agree."""

    def network(self, copy):
        return tiny_pixels8(aux_ctc=9, copy_ctc=copy)

    @staticmethod
    def inputs():
        """Two drawn images [2,1,224,160] and 7 decoder input frames with their positions."""
        import torch
        g = torch.Generator().manual_seed(5)
        px = (torch.rand(2, 1, 224, 160, generator=g) > 0.9).float()
        frames = torch.randint(5, 40, (2, 7, 4), generator=g)
        pos = torch.zeros(2, 7, 2, dtype=torch.long)
        pos[:, :, 0] = torch.arange(7)
        return px, frames, pos

    def test_fresh_it_changes_nothing_trained_it_reads_and_scripts(self):
        import torch
        plain, copying = self.network(0), self.network(1)
        copying.load_state_dict(plain.state_dict(), strict=False)
        px, frames, pos = self.inputs()
        with torch.no_grad():
            memory, mask = plain.encode_pixels(px, torch.tensor([[14, 10], [14, 7]]), torch.ones(2, dtype=torch.long))
            a, _ = plain.decode_step(frames, pos, plain.init_cross(memory), mask, [])
            cross = copying.init_cross(memory)
            self.assertEqual(len(cross), 3)  # two layers, then the columns' reading
            self.assertEqual(tuple(cross[2][0].shape), (2, memory.size(1), 9))
            b, _ = copying.decode_step(frames, pos, cross, mask, [])
            self.assertLess(float((a - b).abs().max()), 1e-5)
            torch.nn.init.normal_(copying.copy_proj.weight)
            whole, _ = copying.decode_step(frames, pos, cross, mask, [])
            self.assertGreater(float((whole - a).abs().max()), 1e-3)
            cache, steps = [], []
            for j in range(7):
                h, cache = copying.decode_step(frames[:, j:j + 1], pos[:, j:j + 1], cross, mask, cache)
                steps.append(h)
            self.assertLess(float((whole - torch.cat(steps, 1)).abs().max()), 1e-5)
            scripted = torch.jit.script(copying)
            again, _ = scripted.decode_step(frames, pos, scripted.init_cross(memory), mask, [])
            self.assertLess(float((again - whole).abs().max()), 1e-5)

    def test_a_fresh_duration_head_changes_nothing_and_scripts(self):
        import torch
        import train_omr
        old, new = tiny_pixels8(aux_ctc=9, copy_ctc=1), tiny_pixels8(aux_ctc=9, copy_ctc=1, aux_durations=5)
        torch.nn.init.normal_(old.copy_proj.weight)
        got = train_omr.widened_reading(new, dict(old.state_dict()))
        self.assertEqual(tuple(got["copy_proj.weight"].shape), (32, 14))
        self.assertTrue(torch.equal(got["copy_proj.weight"][:, :9], old.copy_proj.weight))
        self.assertEqual(float(got["copy_proj.weight"][:, 9:].abs().sum()), 0.0)
        new.load_state_dict(got, strict=False)  # all but the duration head
        px, frames, pos = self.inputs()
        with torch.no_grad():
            memory, mask = old.encode_pixels(px, torch.tensor([[14, 10], [14, 7]]), torch.ones(2, dtype=torch.long))
            cross = new.init_cross(memory)
            self.assertEqual(tuple(cross[2][0].shape), (2, memory.size(1), 14))  # the heads' 9, then the durations' 5
            self.assertTrue(torch.allclose(cross[2][0][:, :, 9:].sum(2), torch.full((2, memory.size(1)), 8.0)))
            a, _ = old.decode_step(frames, pos, old.init_cross(memory), mask, [])
            b, _ = new.decode_step(frames, pos, cross, mask, [])
            self.assertLess(float((a - b).abs().max()), 1e-5)
            torch.nn.init.normal_(new.copy_proj.weight)
            c, _ = new.decode_step(frames, pos, cross, mask, [])
            self.assertGreater(float((c - a).abs().max()), 1e-3)
            scripted = torch.jit.script(new)
            d, _ = scripted.decode_step(frames, pos, scripted.init_cross(memory), mask, [])
            self.assertLess(float((d - c).abs().max()), 1e-5)
        targets = torch.tensor([[2, 3, 1], [4, 1, 0]])
        self.assertGreater(float(new.ctc_loss(memory, mask, targets, timing=True)), 0.0)

    def test_the_dense_heads_reading_joins_fresh_and_scripts(self):
        import torch
        import train_omr
        old = tiny_pixels8(aux_ctc=9, copy_ctc=1, aux_heads=4)
        new = tiny_pixels8(aux_ctc=9, copy_ctc=1, aux_heads=4, copy_heads=True)
        torch.nn.init.normal_(old.copy_proj.weight)
        new.load_state_dict(train_omr.widened_reading(new, dict(old.state_dict())))
        px, frames, pos = self.inputs()
        with torch.no_grad():
            memory, mask = old.encode_pixels(px, torch.tensor([[14, 10], [14, 7]]), torch.ones(2, dtype=torch.long))
            cross = new.init_cross(memory)
            self.assertEqual(tuple(cross[2][0].shape), (2, memory.size(1), 13))  # the CTC head's 9, the dense head's 4
            self.assertTrue(torch.allclose(cross[2][0][:, :, 9:], torch.sigmoid(new.head_map(memory))))
            a, _ = old.decode_step(frames, pos, old.init_cross(memory), mask, [])
            b, _ = new.decode_step(frames, pos, cross, mask, [])
            self.assertLess(float((a - b).abs().max()), 1e-5)  # the new columns start at zero
            torch.nn.init.normal_(new.copy_proj.weight)
            whole, _ = new.decode_step(frames, pos, cross, mask, [])
            scripted = torch.jit.script(new)
            again, _ = scripted.decode_step(frames, pos, scripted.init_cross(memory), mask, [])
            self.assertLess(float((again - whole).abs().max()), 1e-5)


class Rhythm(unittest.TestCase):
    """The rhythm option: a branch from the column CNN's second stage added to the encoder's output
    through a projection that starts at zero; a system encodes the same alone and in a batch, and
    scripted as in Python."""

    def test_fresh_it_changes_nothing_trained_it_reads_alone_as_in_a_batch_and_scripts(self):
        import torch
        plain, branched = tiny_pixels8(aux_ctc=9), tiny_pixels8(aux_ctc=9, rhythm=6)
        missing = branched.load_state_dict(plain.state_dict(), strict=False).missing_keys
        self.assertEqual(sorted({k.split(".")[0] for k in missing}), ["rhythm", "rhythm_proj"])
        g = torch.Generator().manual_seed(8)
        px = (torch.rand(2, 1, 224, 160, generator=g) > 0.9).float()
        size, target = torch.tensor([[14, 10], [12, 7]]), torch.ones(2, dtype=torch.long)
        px[1, :, 192:], px[1, :, :, 112:] = 0.0, 0.0  # the second image is 192 x 112 pixels
        with torch.no_grad():
            a, mask = plain.encode_pixels(px, size, target)
            b, _ = branched.encode_pixels(px, size, target)
            self.assertEqual(float((a - b).abs().max()), 0.0)
            torch.nn.init.normal_(branched.rhythm_proj.weight)
            c, _ = branched.encode_pixels(px, size, target)
            self.assertGreater(float((c - a).abs().max()), 1e-2)
            self.assertEqual(tuple(branched.rhythm(branched.pixel_cnn.both(px, size)[1], size).shape), (2, 20, 6))
            alone, _ = branched.encode_pixels(px[1:, :, :192, :112], size[1:], target[1:])
            self.assertLess(float((alone[0] - c[1, :14]).abs().max()), 1e-4)
            scripted = torch.jit.script(branched)
            again, _ = scripted.encode_pixels(px, size, target)
            self.assertLess(float((again - c).abs().max()), 1e-5)


class SlotLoss(unittest.TestCase):
    """The teacher-forced loss of a batch of whole-frame targets (LMX) runs the sub-decoder on the
    first slot alone: the same loss and gradients as over all four slots (the masked cross-entropy
    of mixed batches)."""

    def test_first_slot_alone_gives_the_same_loss_and_gradients(self):
        import torch
        import torch.nn.functional as F
        from umt_model.vocab import LMX
        model = tiny_pixels8(aux_ctc=9).train()
        g = torch.Generator().manual_seed(7)
        px = (torch.rand(2, 1, 224, 160, generator=g) > 0.9).float()
        size = torch.tensor([[14, 10], [14, 7]])
        start = model.slot_masks[LMX, 0].nonzero().squeeze(1)
        tokens = start[torch.randint(0, start.numel(), (2, 9), generator=g)]
        tokens[1, 6:] = 0  # the second target is shorter: PAD
        frames = tokens[:, :, None].repeat(1, 1, 4)  # whole-frame tokens: every slot a copy
        pos = torch.zeros(2, 9, 2, dtype=torch.long)
        pos[:, :, 0] = torch.arange(9)
        target = torch.full((2,), LMX, dtype=torch.long)

        def grads(loss):
            model.zero_grad()
            loss.backward()
            return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

        fast = model(px, size, target, frames, pos)
        fast_g = grads(fast)
        # reference: all four slots through the sub-decoder, the masked cross-entropy ignoring PAD
        memory, mask = model.encode_source(px, size, target)
        hidden, _ = model.decode_step(frames[:, :-1], pos[:, :-1], model.init_cross(memory), mask, [])
        gold = frames[:, 1:]
        prev = model.tok_emb(gold[:, :, :3])
        slots = torch.cat([hidden.unsqueeze(2), hidden.unsqueeze(2) + prev], 2).view(-1, 4, hidden.size(-1))
        logits = model.sub_logits(slots).masked_fill(~model.slot_masks[LMX][None], -1e9)
        want = torch.cat([gold[:, :, :1], torch.zeros_like(gold[:, :, 1:])], 2).reshape(-1)
        slow = F.cross_entropy(logits.reshape(-1, logits.size(-1)), want, ignore_index=0)
        slow_g = grads(slow)
        self.assertLess(abs(float(fast) - float(slow)), 1e-5)
        self.assertEqual(fast_g.keys(), slow_g.keys())
        for n in fast_g:
            self.assertTrue(torch.allclose(fast_g[n], slow_g[n], atol=1e-6), n)



class ClipApart(unittest.TestCase):
    """trainer.step: an optimizer group marked clip_apart is clipped on its own, so a fresh head's
    large gradient does not shrink the other parameters' step."""

    def test_the_rest_steps_as_if_alone(self):
        import torch
        from umt_model import trainer
        moves = []
        for apart in (False, True):
            a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3))
            model = torch.nn.ParameterList([a, b])
            opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "clip_apart": apart}], lr=1.0)
            loss = (a * torch.tensor([0.3, 0.0, 0.4])).sum() + (b * 1000.0).sum()
            self.assertTrue(trainer.step(model, opt, loss, {}))
            moves.append(a.detach().clone())
        self.assertTrue(torch.allclose(moves[1], torch.tensor([-0.3, 0.0, -0.4])))  # norm 0.5: not clipped
        self.assertLess(float(moves[0].abs().max()), 1e-3)  # clipped together: a hardly moves


class WeightSoup(unittest.TestCase):
    """scripts/average_weights.py: the mean of runs' fp16 weights, their costs added; runs of
    another network or start are refused, and no input is overwritten."""

    def body(self, value, network=None, init="umt-v19"):
        import torch
        return {"model": {"w": torch.full((2, 3), value, dtype=torch.float16),
                          "bn.num_batches_tracked": torch.tensor(7)},
                "network": network or {"width": 4}, "vocabulary": ["a"], "init": {"from": init},
                "state": {"step": 10, "seconds": 600.0, "samples": {"omr": 100}}}

    def test_mean_and_costs(self):
        import torch
        import average_weights
        soup = average_weights.soup([self.body(1.0), self.body(2.0), self.body(6.0)])
        self.assertTrue(torch.equal(soup["model"]["w"], torch.full((2, 3), 3.0, dtype=torch.float16)))
        self.assertEqual(int(soup["model"]["bn.num_batches_tracked"]), 7)
        self.assertEqual(soup["state"]["samples"], {"omr": 300})
        self.assertEqual(soup["state"]["seconds"], 1800.0)
        for other in (self.body(1.0, network={"width": 8}), self.body(1.0, init="umt-v18")):
            with self.assertRaises(ValueError):
                average_weights.soup([self.body(1.0), other])

    def test_command_line(self):
        import subprocess
        import torch
        d = tempfile.mkdtemp()
        paths = [os.path.join(d, f"{n}.pt") for n in "ab"]
        for path, value in zip(paths, (1.0, 3.0)):
            torch.save(self.body(value), path)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "average_weights.py")
        run = subprocess.run([sys.executable, script, *paths, "--out", paths[0]], capture_output=True, text=True)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("replace this input", run.stderr)
        self.assertEqual(float(torch.load(paths[0])["model"]["w"][0, 0]), 1.0)
        out = os.path.join(d, "soup.pt")
        run = subprocess.run([sys.executable, script, *paths, "--out", out], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        soup = torch.load(out)
        self.assertEqual(float(soup["model"]["w"][1, 2]), 2.0)
        self.assertEqual(len(soup["averaged"]), 2)


if __name__ == "__main__":
    unittest.main()
