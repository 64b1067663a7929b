"""What the trainers share (scripts/train_amt.py, scripts/train_omr.py, scripts/train_translator.py):
the learning-rate schedule, starting from a bundle or an earlier run, resuming a run from
RUN/checkpoint.pt, one optimizer step with gradient clipping, an exponential moving average of the
weights, saving a run (checkpoint with optimizer state; model.pt, and best.pt when asked, in fp16
without it) and the single-process training loop over training minutes."""
import contextlib
import math
import os
import signal
import sys
import time

import numpy as np
import torch

# Training-only heads and the input stem: what --init does not need to match.
TRAINING_HEADS = ("aux_ctc", "aux_heads")


def schedule_args(ap, warmup, eval_every, threads, minutes_required=True):
    """The options every trainer takes: its schedule (--minutes, --lr, --min-lr-ratio, --warmup,
    --weight-decay), its evaluation and checkpoint intervals, --threads and --seed."""
    ap.add_argument("--minutes", type=float, required=minutes_required, default=None if minutes_required else 0,
                    help="run length in training minutes (cosine schedule over them)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--ema", type=float, default=0.0,
                    help="decay of an exponential moving average of the weights per step (e.g. 0.998; 0 = none): "
                         "dev evaluations, model.pt and best.pt use the average, the checkpoint keeps both")
    ap.add_argument("--eval-every", type=float, default=eval_every, help="minutes between dev evaluations")
    ap.add_argument("--save-every", type=float, default=5, help="minutes between checkpoints")
    ap.add_argument("--max-rss-gb", type=float, default=None,
                    help="resident memory at which the run saves and restarts itself to return its heap "
                         "(default: 45 %% of the machine's memory; 0 = never)")
    ap.add_argument("--threads", type=int, default=threads)
    ap.add_argument("--seed", type=int, default=0)


def learning_rate(args, step, progress):
    """Linear warm-up over args.warmup steps, then cosine from args.lr down to args.min_lr_ratio x it."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def without_heads(net, keep_out=()):
    """A network without its training heads, its image stem and the keys in keep_out: what --init
    can carry over between networks."""
    return {k: v for k, v in net.items() if k not in TRAINING_HEADS + ("image_stem", "pixel_channels") + tuple(keep_out)}


def load_with_fresh_heads(model, weights, where):
    """Loads weights into model; parts the source lacks may only be new input-side parts (codec
    vectors, the pixel or mel stem, the frame head and its harmonic branch) and training heads, which start fresh."""
    own = model.state_dict()
    # an exported module also lists the buffers a trained model does not keep (the mel filters)
    constant = {k for k, _ in model.named_buffers() if k not in own}
    weights = {k: v.float() if v.is_floating_point() else v for k, v in weights.items() if k not in constant}
    fresh = {k: v for k, v in own.items()
             if k.startswith(("code_", "ctc.", "pixel_", "mel_stem.", "frame_head.", "harmonic.")) and k not in weights}
    missing, unexpected = model.load_state_dict(dict(weights, **fresh), strict=False)
    if missing or unexpected:
        raise SystemExit(f"{where}: another network (missing {missing}, unexpected {unexpected})")


def source_name(path, man=None, ck=None):
    """How a model card names what a run continued, never by a path of the machine it was trained
    on: a bundle (its manifest man) by its name, a run's checkpoint ck by its folder, file and step."""
    if man is not None:
        return man.get("name", os.path.basename(os.path.normpath(path)))
    run = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return f"run {run}, {os.path.basename(path)} at step {ck['state']['step']}"


def lineage(rec=None, ck=None):
    """What a model saw in all, for the model card: {"total_samples", "total_minutes"} of a bundle
    direction's training record (its totals, else its own run's figures), or of a run's checkpoint
    (its own minutes and samples plus the totals of what it was started from)."""
    if ck is not None:
        before = ck.get("init") or {}
        return {"total_samples": sum(ck["state"].get("samples", {}).values()) + int(before.get("total_samples", 0)),
                "total_minutes": round(ck["state"]["seconds"] / 60 + float(before.get("total_minutes", 0.0)), 1)}
    rec = rec or {}
    return {"total_samples": int(rec.get("total_samples", sum(rec.get("samples", {}).values()))),
            "total_minutes": float(rec.get("total_minutes", rec.get("minutes", 0.0)))}


def init_from(model, source, direction, vocab, net, keep_out=(), drop=()):
    """Starts model from a bundle folder's translator of `direction` or from a run's model.pt /
    checkpoint.pt (its weights whose names start with one of `drop` left out); the networks must
    agree but for training heads, the stem and keep_out. Returns the init record of the model card:
    where from, and the steps and samples before it."""
    if os.path.isdir(source):
        from .bundle import load_manifest
        man = load_manifest(source)
        shipped = man.get("networks", {}).get(direction, man["network"])
        if man["vocabulary"] != vocab or without_heads(shipped, keep_out) != without_heads(net, keep_out):
            raise SystemExit(f"{source}: another vocabulary or network than this run's")
        weights = torch.jit.load(os.path.join(source, man["translators"][direction])).state_dict()
        rec = man.get("training", {}).get(direction, {})
        info = {"from": source_name(source, man=man), "steps": rec.get("total_steps", rec.get("step", 0)),
                "samples": rec.get("samples", {}), **lineage(rec=rec)}
    else:
        ck = torch.load(source, map_location="cpu")
        weights = ck["model"]
        info = {"from": source_name(source, ck=ck), "steps": ck["state"]["step"] + (ck.get("init") or {}).get("steps", 0),
                "samples": ck["state"]["samples"], **lineage(ck=ck)}
    load_with_fresh_heads(model, {k: v for k, v in weights.items() if not k.startswith(tuple(drop))}, source)
    return info


class Average:
    """An exponential moving average of a model's floating-point parameters (buffers such as
    BatchNorm's running statistics are the model's own): it starts at the model's weights when
    begin() is called (or where a checkpoint's average was, load_state_dict), and is updated after
    every step taken, with the decay ramped up over the first steps (min(decay, (1 + n) / (10 + n)))
    so that a young average is not dominated by its start."""

    def __init__(self, model, decay):
        self.decay = decay
        self.names = [k for k, p in model.named_parameters() if p.is_floating_point()]
        self.params = [p for _, p in model.named_parameters() if p.is_floating_point()]
        self.shadow = None
        self.updates = 0

    def begin(self):
        """Starts the average at the model's weights unless a checkpoint's average was loaded."""
        if self.shadow is None:
            self.shadow = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self):
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_mul_(self.shadow, d)
        torch._foreach_add_(self.shadow, [p.detach() for p in self.params], alpha=1 - d)
        self.updates += 1

    @contextlib.contextmanager
    def applied(self):
        """The model with the averaged weights inside the block, its own after it."""
        own = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, a in zip(self.params, self.shadow):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, o in zip(self.params, own):
                    p.copy_(o)

    def weights(self, state_dict):
        """state_dict with the averaged parameters in place of the model's."""
        return dict(state_dict, **dict(zip(self.names, self.shadow)))

    def state_dict(self):
        return {"decay": self.decay, "updates": self.updates, "shadow": dict(zip(self.names, self.shadow))}

    def load_state_dict(self, st):
        self.shadow = [st["shadow"][k].clone() for k in self.names]
        self.updates = st["updates"]


def averaging(model, args):
    """The run's weight average (--ema), or None."""
    return Average(model, args.ema) if getattr(args, "ema", 0) > 0 else None


def resume(ck_path, model, opt, net, announce=True, average=None):
    """Loads RUN/checkpoint.pt into model and opt (and its weight average into average, when both
    have one) when it exists: (state, init record), else None. The network recorded in it must
    equal this run's flags; announce: say so on stderr."""
    if not os.path.exists(ck_path):
        return None
    ck = torch.load(ck_path, map_location="cpu")
    if ck["network"] != net:
        raise SystemExit(f"{ck_path}: network {ck['network']} differs from the flags {net}")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    if average is not None and ck.get("average"):
        average.load_state_dict(ck["average"])
    state = ck["state"]
    if announce:
        print(f"resumed at step {state['step']} ({state['seconds'] / 60:.1f} min)", file=sys.stderr)
    return state, ck.get("init")


def step(model, opt, loss, state):
    """Backward, gradients clipped to norm 1, one optimizer step; a non-finite step is counted in
    state["skipped"] and not taken. Returns whether it was taken. The parameters of optimizer
    groups marked "clip_apart" are clipped on their own (a fresh head whose large early gradients
    would otherwise shrink everyone else's step)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    apart = [p for g in opt.param_groups if g.get("clip_apart") for p in g["params"]]
    if apart:
        own = {id(p) for p in apart}
        norm = torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if id(p) not in own], 1.0)
        norm = norm + torch.nn.utils.clip_grad_norm_(apart, 1.0)
    else:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    if torch.isfinite(norm):
        opt.step()
        return True
    state["skipped"] = state.get("skipped", 0) + 1
    opt.zero_grad(set_to_none=True)
    return False


def save(run, body, opt, best=False, average=None):
    """body: {"model": state_dict, "network", "vocabulary", "state", "init", "training"} ->
    RUN/checkpoint.pt (with the optimizer and the weight average), RUN/model.pt and, when best,
    RUN/best.pt (fp16 weights, the average's when there is one, no optimizer state: what
    scripts/export_translators.py ships); each written whole or not at all."""
    ck_path = os.path.join(run, "checkpoint.pt")
    extra = {"average": average.state_dict()} if average is not None else {}
    torch.save(dict(body, optimizer=opt.state_dict(), **extra), ck_path + ".tmp")
    os.replace(ck_path + ".tmp", ck_path)
    weights = average.weights(body["model"]) if average is not None else body["model"]
    body = dict(body, model={k: v.half() if v.is_floating_point() else v for k, v in weights.items()})
    for name in ["model.pt"] + (["best.pt"] if best else []):
        torch.save(body, os.path.join(run, name + ".tmp"))
        os.replace(os.path.join(run, name + ".tmp"), os.path.join(run, name))


def resident_bytes():
    """This process's resident memory (Linux; 0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def memory_bound(args):
    """--max-rss-gb in bytes; by default 45 % of the machine's memory (0: no bound)."""
    gb = getattr(args, "max_rss_gb", None)
    if gb is None:
        try:
            return int(0.45 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (OSError, ValueError):
            return 0
    return int(gb * 2**30)


def restart_process(before=None):
    """Runs this trainer again with the same arguments and environment (it resumes from its
    checkpoint): the only way to give back a heap that never purges (umt_model/heap.py)."""
    if before is not None:
        before()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable] + sys.argv)


def train(args, state, task, model, opt, batch_loss, save, evaluate, note=None, baseline=False, average=None,
          before_restart=None):
    """The single-process training loop: until args.minutes of training time (evaluations and
    saves excluded) have passed, batch_loss() -> (loss, examples) of one batch is stepped at the
    schedule's learning rate; a log line every 25 steps (note() adds to it); every args.eval_every
    minutes evaluate() (True when dev improved) and save(best=...); every args.save_every minutes
    save(). SIGTERM or SIGINT stop it after the step under way with a save, so that a stopped run
    resumes where it was; the end evaluates and saves. baseline: a run that starts from another
    model (--init) evaluates it first, so that its dev figure is the one to beat, not -inf. average:
    the run's weight average, begun at the weights the loop starts from (unless a checkpoint's was
    loaded) and updated after every step taken; evaluate() sees the averaged weights. When the
    process's resident memory passes memory_bound(args) (PyTorch on CPU allocates tensors of ever-new
    shapes; a heap that never purges only grows), it saves and restarts itself, before_restart()
    first (e.g. to stop batch workers)."""
    stop = []
    bound = memory_bound(args)
    handlers = {s: signal.signal(s, lambda *_: stop.append(True)) for s in (signal.SIGTERM, signal.SIGINT)}
    progress = lambda: state["seconds"] / (60 * args.minutes)  # noqa: E731
    last_save = t_prev = time.time()
    window = []
    if average is not None:
        average.begin()

    def judged(final=False):
        with average.applied() if average is not None else contextlib.nullcontext():
            return evaluate(final=final)

    if baseline and state["step"] == 0:
        state["evaluated_at"] = state["seconds"]
        save(best=judged())
        last_save = t_prev = time.time()
    model.train()
    try:
        while progress() < 1.0:
            lr = learning_rate(args, state["step"], progress())
            for g in opt.param_groups:
                g["lr"] = lr * g.get("lr_scale", 1.0)
            loss, n = batch_loss()
            if step(model, opt, loss, state) and average is not None:
                average.update()
            now = time.time()
            spent, typical = now - t_prev, state.get("step_seconds")
            if typical and spent > max(30.0, 10 * typical):
                spent = typical  # the process was stopped (SIGSTOP, a suspended machine): not training time
            state["step_seconds"] = spent if not typical else 0.95 * typical + 0.05 * spent
            state["seconds"] += spent
            t_prev = now
            state["step"] += 1
            state["samples"][task] = state["samples"].get(task, 0) + n
            window.append(float(loss))
            if state["step"] % 25 == 0:
                print(f"step {state['step']} {state['seconds'] / 60:.1f} min lr {lr:.2e} loss {np.mean(window):.4f} "
                      f"samples {state['samples'][task]}" + (note() if note else ""), file=sys.stderr, flush=True)
                window = []
            if stop:
                save()
                print(f"stopped: step {state['step']} saved ({state['seconds'] / 60:.1f} min)", file=sys.stderr)
                return
            if bound and state["step"] % 5 == 0 and resident_bytes() > bound:
                save()
                print(f"restarting: {resident_bytes() / 2**30:.1f} GB resident at step {state['step']} "
                      f"(bound {bound / 2**30:.1f} GB); saved", file=sys.stderr, flush=True)
                restart_process(before_restart)  # exec resets the signal handlers
            # Training minutes since the last evaluation, kept in the checkpoint: a run that
            # restarts (or is resumed) more often than --eval-every still evaluates on time.
            if state["seconds"] - state.get("evaluated_at", 0.0) > 60 * args.eval_every:
                state["evaluated_at"] = state["seconds"]
                save(best=judged())
                last_save = t_prev = time.time()  # evaluation time is not training time
            elif now - last_save > 60 * args.save_every:
                save()
                last_save = t_prev = time.time()
        save(best=judged(final=True))
        print(f"done: step {state['step']}, best dev {state.get('best')}", file=sys.stderr)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
