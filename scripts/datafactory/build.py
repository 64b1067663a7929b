"""One score through the factory: engrave, cut systems, LMX per system, score and
performance MIDI, audio, then the aligned pairs. Everything lands in one work folder
with a done.json that lists the manifest records (the resume point)."""
import hashlib
import json
import os
import shutil
import subprocess
import traceback

import numpy as np

from . import audio as audio_mod
from . import engrave, humanize, images, lmx, midi, musicxml, timeline

AUDIO_FRAMES_PER_S = 86.0   # the paper's codec (44.1 kHz, hop 512); tokens = frames x 4 codes
MIDI_TOKEN_WINDOW_S = 10.0
SPLIT_CODES = {"train": 1, "dev": 2}


def stable_hash(text):
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def midi_event_tokens(notes, start, end):
    """MT3-style token count of one window: tie section, then shift/velocity/pitch events."""
    tie = [n for n in notes if n.onset_s < start < n.offset_s]
    events = []
    for n in notes:
        if start <= n.onset_s < end:
            events.append((round((n.onset_s - start) * 100), 1, n.velocity))
        if start <= n.offset_s < end:
            events.append((round((n.offset_s - start) * 100), 0, 0))
    events.sort()
    count = len(tie) + 1
    last_t, last_v = None, None
    for t, on, v in events:
        if t != last_t:
            count += 1
            last_t = t
        vv = v if on else 0
        if vv != last_v:
            count += 1
            last_v = vv
        count += 1
    return count


def _rel(path, root):
    return os.path.relpath(path, root)


def process(job):
    """Returns {"id", "ok", "records", "stats"} (ok False with "error" on failure)."""
    work = job["work"]
    done_path = os.path.join(work, "done.json")
    if os.path.exists(done_path):
        with open(done_path) as f:
            out = json.load(f)
        out["resumed"] = True
        return out
    try:
        out = _process(job)
    except Exception as e:  # a bad score must not stop the build; it is reported
        return {"id": job["id"], "ok": False, "error": f"{type(e).__name__}: {e}",
                "trace": traceback.format_exc(limit=3)}
    tmp = done_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, done_path)
    return out


def _process(job):
    root = job["out"]
    work = job["work"]
    umt = job["umt"]
    if os.path.isdir(work):
        shutil.rmtree(work)  # a half-finished earlier attempt
    os.makedirs(work)
    rng = np.random.default_rng([job["seed"], stable_hash(job["id"]), SPLIT_CODES.get(job["split"], 9)])
    stats = {"checks": {}}

    # 1. Source -> piano-only MusicXML and its timeline: umt's score MIDI, measures as written.
    src = job["source"]
    if job["kind"] == "generated":
        src = os.path.join(work, "generated.musicxml")
        subprocess.run([umt, "-q", "generate", "--seed", str(job["gen_seed"]), "--measures", str(job["gen_measures"]),
                        "-o", src], check=True, capture_output=True, text=True)
    piano = musicxml.piano_only(musicxml.load(src))
    piano_path = os.path.join(work, "score.musicxml")
    musicxml.write(piano, piano_path)
    if job["kind"] == "generated":
        os.remove(src)
    score_midi = os.path.join(work, "score.mid")
    tl = timeline.render(umt, piano_path, score_midi, piano)
    if tl.measures == 0 or not tl.notes:
        raise ValueError("score has no measures or no notes")

    # 2.-4. Images and per-system LMX; an audio-only build (AMT data) skips them.
    eng, n_sys, system_lmx, sizes, crop_source = None, 0, [], [], None
    if not job.get("audio_only"):
        # 2. Engrave with one engraver, chosen per score; fall back to the other.
        order = job["engravers"][:]
        if len(order) > 1 and rng.random() < 0.5:
            order.reverse()
        eng, errors = None, []
        for name in order:
            try:
                eng_dir = os.path.join(work, "pages")
                if os.path.isdir(eng_dir):
                    shutil.rmtree(eng_dir)
                e = (engrave.musescore if name == "musescore" else engrave.verovio)(piano_path, eng_dir, rng)
                engrave.check_measures(e, tl.measures)
                eng = e
                break
            except (engrave.EngraveError, subprocess.SubprocessError, OSError) as ex:
                errors.append(f"{name}: {ex}")
        if eng is None:
            raise engrave.EngraveError("; ".join(errors))
        for leftover in ("input.musicxml", "job.json", "ms.mpos", "layout.json"):
            p = os.path.join(work, "pages", leftover)
            if os.path.exists(p):
                os.remove(p)

        # 3. System crops: umt systems (what inference uses), verified against the layout.
        import cv2
        sys_dir = os.path.join(work, "systems")
        os.makedirs(sys_dir)
        n_sys = len(eng.systems)
        crops = [None] * n_sys
        crop_source = "umt-systems"
        try:
            detected = images.umt_systems(umt, eng.pages, os.path.join(work, "detect"), job["staff_height"],
                                          job.get("staff_bands", 0))
            by_page = {}
            for i, s in enumerate(eng.systems):
                by_page.setdefault(s.page, []).append(i)
            for page, idxs in by_page.items():
                det = detected[page]
                if len(det) != len(idxs):
                    raise ValueError(f"page {page + 1}: umt systems found {len(det)} systems, the engraver made {len(idxs)}")
                for d, i in zip(det, idxs):
                    s = eng.systems[i]
                    if not images.boxes_agree(d["box"], s.box_px, 2.5 * s.staff_height_px):
                        raise ValueError(f"page {page + 1}: system {d['system']} box disagrees with the layout")
                    crops[i] = os.path.join(work, "detect", d["file"])
            stats["checks"]["systems_match_layout"] = True
        except (subprocess.SubprocessError, ValueError, KeyError, OSError) as ex:
            stats["checks"]["systems_match_layout"] = False
            stats["checks"]["systems_mismatch"] = str(ex)[:300]
            crop_source = "engraver-layout"
            if job.get("staff_bands", 0):
                # The engraver's boxes give no staff lines to band: no images of this piece.
                raise ValueError(f"umt systems does not match the engraver's layout ({str(ex)[:200]}); "
                                 "the band layout has no fallback crop")
        system_files, scan_files, sizes = [], [], []
        page_imgs = [cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in eng.pages]
        for i, s in enumerate(eng.systems):
            dst = os.path.join(sys_dir, f"s{i + 1:02d}.png")
            if crop_source == "umt-systems":
                shutil.move(crops[i], dst)
            else:
                same = [o for o in eng.systems if o.page == s.page]
                k = same.index(s)
                nb = (same[k - 1].box_px[3] if k > 0 else None, same[k + 1].box_px[1] if k + 1 < len(same) else None)
                cv2.imwrite(dst, images.crop_from_layout(page_imgs[s.page], s.box_px, s.staff_height_px,
                                                         job["staff_height"], nb))
            img = cv2.imread(dst, cv2.IMREAD_GRAYSCALE)
            sizes.append(img.shape)
            system_files.append(dst)
        shutil.rmtree(os.path.join(work, "detect"), ignore_errors=True)

        # 3b. Scan-like copies: degrade whole pages, cut them again with umt systems.
        scan_files = [None] * n_sys
        if job["scan"] and crop_source == "umt-systems":
            scan_pages = []
            scan_params = []
            for pi, img in enumerate(page_imgs):
                deg, p = images.scan_augment(img, rng)
                path = os.path.join(work, "pages", f"scan-{pi + 1}.png")
                cv2.imwrite(path, deg)
                scan_pages.append(path)
                scan_params.append(p)
            try:
                detected = images.umt_systems(umt, scan_pages, os.path.join(work, "detect-scan"), job["staff_height"],
                                              job.get("staff_bands", 0))
                for page in range(len(scan_pages)):
                    idxs = [i for i, s in enumerate(eng.systems) if s.page == page]
                    if len(detected[page]) != len(idxs):
                        continue  # the degraded page lost or split a system: no scan copy of it
                    # The same systems, not just as many: position on the page and crop width
                    # must match the clean cut, else the pair would be wrong.
                    if not all(images.boxes_agree(d["box"], eng.systems[i].box_px, 2.5 * eng.systems[i].staff_height_px)
                               and 0.85 <= d["width"] / sizes[i][1] <= 1.15
                               for d, i in zip(detected[page], idxs)):
                        stats["checks"]["scan_pages_rejected"] = stats["checks"].get("scan_pages_rejected", 0) + 1
                        continue
                    for d, i in zip(detected[page], idxs):
                        dst = os.path.join(sys_dir, f"s{i + 1:02d}-scan.png")
                        shutil.move(os.path.join(work, "detect-scan", d["file"]), dst)
                        scan_files[i] = dst
            except (subprocess.SubprocessError, OSError, KeyError):
                pass
            shutil.rmtree(os.path.join(work, "detect-scan"), ignore_errors=True)
            for p in scan_pages:
                os.remove(p)
            stats["scan_params"] = scan_params
        # Where the detector lost a degraded page, degrade the clean crop itself: the pair
        # stays exact, only the page-level effects (cutting a rotated page) are missing.
        scan_kind = ["page" if f else None for f in scan_files]
        if job["scan"]:
            for i in range(n_sys):
                if scan_files[i] is None:
                    deg, _ = images.scan_augment(cv2.imread(system_files[i], cv2.IMREAD_GRAYSCALE), rng)
                    dst = os.path.join(sys_dir, f"s{i + 1:02d}-scan.png")
                    cv2.imwrite(dst, deg)
                    scan_files[i] = dst
                    scan_kind[i] = "crop"

        # 4. LMX per system: breaks where the engraver broke, then umt convert --systems.
        counts = [s.measure_count for s in eng.systems]
        broken = musicxml.insert_system_breaks(piano, [s.first_measure for s in eng.systems])
        broken_path = os.path.join(work, "score-systems.musicxml")
        musicxml.write(broken, broken_path)
        system_lmx = lmx.convert_systems(umt, broken_path)
        if len(system_lmx) != n_sys:
            raise ValueError(f"umt convert --systems gave {len(system_lmx)} systems, the engraver {n_sys}")
        problems = []
        for i, s in enumerate(eng.systems):
            problems += [f"system {i + 1}: {p}" for p in lmx.check_system(system_lmx[i], broken, s.first_measure, s.measure_count)]
        stats["checks"]["lmx_pairing_problems"] = problems[:20]
        if problems:
            raise ValueError("LMX/system pairing failed: " + "; ".join(problems[:3]))
        if job.get("reference_lmx") and os.path.exists(job["reference_lmx"]):
            with open(job["reference_lmx"]) as f:
                ref = f.read().split()
            try:
                sliced = lmx.slice_systems(ref, counts)
                agree = sum(a == b for a, b in zip(sliced, system_lmx))
                stats["checks"]["reference_lmx_systems_agree"] = [agree, n_sys]
            except ValueError as ex:
                stats["checks"]["reference_lmx_systems_agree"] = str(ex)
        with open(os.path.join(work, "systems.lmx"), "w") as f:
            f.write("\n".join(" ".join(t) for t in system_lmx) + "\n")

    if job.get("images_only"):  # OMR data: no performance, no audio
        os.remove(score_midi)
        base = {"source": job["source_name"], "licence": job["licence"], "split": job["split"],
                "score_id": job["id"], "engraver": eng.engraver}
        recs = [dict(base, id=job["id"], kind="score", musicxml=_rel(piano_path, root),
                     pages=[_rel(p, root) for p in eng.pages], duration_s=0.0, measures=tl.measures,
                     systems=n_sys, engrave_params=eng.params, crop_source=crop_source)]
        for i, s in enumerate(eng.systems):
            h, w = sizes[i]
            recs.append(dict(base, id=f"{job['id']}-s{i + 1:02d}", kind="system", image=_rel(system_files[i], root),
                             image_scan=_rel(scan_files[i], root) if scan_files[i] else None,
                             image_scan_kind=scan_kind[i], image_height=h, image_width=w,
                             staff_height_px=job["staff_height"], staff_bands=job.get("staff_bands", 0),
                             lmx=" ".join(system_lmx[i]),
                             lmx_tokens=len(system_lmx[i]), measures=[s.first_measure, s.measure_count], page=s.page))
        stats.update(systems=n_sys, measures=tl.measures, pages=len(eng.pages), engraver=eng.engraver,
                     crop_source=crop_source, scan_copies=sum(1 for f in scan_files if f),
                     scan_from_page=sum(1 for k in scan_kind if k == "page"), audio_s={},
                     lmx_tokens=sum(len(t) for t in system_lmx), midi_tokens=0, notes=len(tl.notes),
                     image_tokens=sum(images.image_tokens(int(h * 18 / job["staff_height"]),
                                                          int(w * 18 / job["staff_height"])) for h, w in sizes))
        return {"id": job["id"], "ok": True, "records": {job["split"]: recs}, "stats": stats}

    # 5. The humanized performance of the score MIDI (written in step 1).
    perf_notes, pedals, warp = humanize.perform(tl, rng)
    midi.write_midi(os.path.join(work, "performance.mid"), perf_notes, pedals)
    stats["humanize"] = warp.params
    stats["pedal"] = bool(pedals)

    # 6. Audio: FluidSynth through umt, then EQ/gain/room augmentation.
    rate = job["audio_rate"]
    variants = [("audio", job["soundfonts"][int(rng.integers(0, len(job["soundfonts"])))], False)]
    # The training audio's piano program (timbre variety within the two training SoundFonts) is drawn by a
    # generator of its own, so the main one -- and with it every other choice and all dev data -- is unchanged.
    # Only the rendered copy carries the program; performance.mid (the labels) stays program 0.
    program = 0
    if job["split"] == "train" and job.get("train_programs"):
        progs = job["train_programs"]
        trng = np.random.default_rng([job["seed"], stable_hash(job["id"]), 101])
        w = np.array([p[1] for p in progs], dtype=float)
        program = int(progs[int(trng.choice(len(progs), p=w / w.sum()))][0])
    if program:
        midi.write_midi(os.path.join(work, "render.mid"), perf_notes, pedals, program=program)
    stats["program"] = program
    if job.get("eval_soundfont"):
        variants.append(("audio-eval", job["eval_soundfont"], True))
    audio_files = {}
    for name, sf, force_reverb in variants:
        raw = os.path.join(work, f"{name}-raw.wav")
        src_mid = "render.mid" if program and name == "audio" else "performance.mid"
        audio_mod.synth(umt, os.path.join(work, src_mid), raw, sf, rate)
        x, r = audio_mod.read_wav(raw)
        y, params = audio_mod.augment(x, r, rng, force_reverb=force_reverb)
        dst = os.path.join(work, f"{name}.wav")
        audio_mod.write_wav(dst, y, r)
        os.remove(raw)
        audio_files[name] = (dst, len(y) / r, os.path.basename(sf), params, program if name == "audio" else 0)
    if program:
        os.remove(os.path.join(work, "render.mid"))

    # 7. Records.
    base = {"source": job["source_name"], "licence": job["licence"], "split": job["split"],
            "score_id": job["id"], "engraver": eng.engraver if eng else None}
    spans = []
    for s in (eng.systems if eng else []):
        q0, q1 = tl.measure_start_q[s.first_measure], tl.measure_start_q[s.first_measure + s.measure_count]
        spans.append((warp(q0), warp(q1), tl.seconds_at(q0), tl.seconds_at(q1)))
    records = {"train": [], "dev": [], "dev_eval": []}
    for name, (wav, dur, sf, aparams, prog) in audio_files.items():
        split = job["split"] if name == "audio" else "dev_eval"
        common = dict(base, split=split, audio=_rel(wav, root), soundfont=sf, program=prog)
        sid = job["id"] if name == "audio" else job["id"] + "-eval"
        recs = records.setdefault(split, [])
        recs.append(dict(common, id=sid, kind="score", musicxml=_rel(piano_path, root),
                         pages=[_rel(p, root) for p in eng.pages] if eng else [], score_midi=_rel(score_midi, root),
                         performance_midi=_rel(os.path.join(work, "performance.mid"), root),
                         duration_s=round(dur, 3), measures=tl.measures, systems=n_sys,
                         engrave_params=eng.params if eng else None, audio_params=aparams, humanize=warp.params,
                         crop_source=crop_source))
        for i, s in enumerate(eng.systems if eng else []):
            a, b, sa, sb = spans[i]
            h, w = sizes[i]
            recs.append(dict(common, id=f"{sid}-s{i + 1:02d}", kind="system",
                             image=_rel(system_files[i], root),
                             image_scan=_rel(scan_files[i], root) if scan_files[i] else None,
                             image_scan_kind=scan_kind[i],
                             image_height=h, image_width=w, staff_height_px=job["staff_height"],
                             lmx=" ".join(system_lmx[i]), lmx_tokens=len(system_lmx[i]),
                             measures=[s.first_measure, s.measure_count], page=s.page,
                             start_s=round(min(a, dur), 4), end_s=round(min(b, dur), 4),
                             score_start_s=round(sa, 4), score_end_s=round(sb, 4),
                             score_midi=_rel(score_midi, root),
                             performance_midi=_rel(os.path.join(work, "performance.mid"), root)))
        # Image <-> audio: one or two consecutive systems, at most 20 s of audio.
        for i in range(n_sys):
            for k in (1, 2):
                if i + k > n_sys:
                    continue
                a, b = spans[i][0], spans[i + k - 1][1]
                if b - a > 20.0 or b <= a:
                    continue
                recs.append(dict(common, id=f"{sid}-ia{i + 1:02d}x{k}", kind="image_audio",
                                 images=[_rel(system_files[j], root) for j in range(i, i + k)],
                                 lmx=[" ".join(system_lmx[j]) for j in range(i, i + k)],
                                 start_s=round(a, 4), end_s=round(min(b, dur), 4),
                                 measures=[eng.systems[i].first_measure,
                                           sum(eng.systems[j].measure_count for j in range(i, i + k))]))
        # MIDI <-> audio windows.
        for win in (10.0, 20.0):
            t = 0.0
            while t < dur - 1.0:
                e = min(t + win, dur)
                n_on = sum(1 for n in perf_notes if t <= n.onset_s < e)
                recs.append(dict(common, id=f"{sid}-ma{int(win)}-{int(t):05d}", kind="midi_audio", window_s=win,
                                 midi=_rel(os.path.join(work, "performance.mid"), root),
                                 start_s=round(t, 3), end_s=round(e, 3), notes=n_on,
                                 midi_tokens=midi_event_tokens(perf_notes, t, e)))
                t += win
    lmx_tok = sum(len(t) for t in system_lmx)
    stats.update(
        systems=n_sys, measures=tl.measures, pages=len(eng.pages) if eng else 0,
        engraver=eng.engraver if eng else None, crop_source=crop_source if eng else None,
        scan_copies=sum(1 for f in scan_files if f) if eng else 0,
        scan_from_page=sum(1 for k in scan_kind if k == "page") if eng else 0,
        audio_s={k: v[1] for k, v in audio_files.items()},
        lmx_tokens=lmx_tok,
        image_tokens=sum(images.image_tokens(int(h * 18 / job["staff_height"]), int(w * 18 / job["staff_height"]))
                         for h, w in sizes),
        midi_tokens=sum(midi_event_tokens(perf_notes, t, t + MIDI_TOKEN_WINDOW_S)
                        for t in np.arange(0, audio_files["audio"][1], MIDI_TOKEN_WINDOW_S)),
        notes=len(perf_notes))
    return {"id": job["id"], "ok": True, "records": records, "stats": stats}
