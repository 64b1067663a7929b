"""What the single-process trainers (scripts/train_amt.py, scripts/train_omr.py) share: resuming a
run from RUN/checkpoint.pt, one optimizer step with gradient clipping, and saving a run
(checkpoint with optimizer state; model.pt, and best.pt when asked, in fp16 without it)."""
import os
import sys

import torch


def resume(ck_path, model, opt, net, announce=True):
    """Loads RUN/checkpoint.pt into model and opt when it exists: (state, init record), else None.
    The network recorded in it must equal this run's flags; announce: say so on stderr."""
    if not os.path.exists(ck_path):
        return None
    ck = torch.load(ck_path, map_location="cpu")
    if ck["network"] != net:
        raise SystemExit(f"{ck_path}: network {ck['network']} differs from the flags {net}")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    state = ck["state"]
    if announce:
        print(f"resumed at step {state['step']} ({state['seconds'] / 60:.1f} min)", file=sys.stderr)
    return state, ck.get("init")


def step(model, opt, loss, state):
    """Backward, gradients clipped to norm 1, one optimizer step; a non-finite step is counted in
    state["skipped"] and not taken."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    if torch.isfinite(norm):
        opt.step()
    else:
        state["skipped"] = state.get("skipped", 0) + 1


def save(run, body, opt, best=False):
    """body: {"model": state_dict, "network", "vocabulary", "state", "init", "training"} ->
    RUN/checkpoint.pt (with the optimizer), RUN/model.pt and, when best, RUN/best.pt (fp16 weights,
    no optimizer state: what scripts/export_translators.py ships); each written whole or not at all."""
    ck_path = os.path.join(run, "checkpoint.pt")
    torch.save(dict(body, optimizer=opt.state_dict()), ck_path + ".tmp")
    os.replace(ck_path + ".tmp", ck_path)
    body = dict(body, model={k: v.half() if v.is_floating_point() else v for k, v in body["model"].items()})
    for name in ["model.pt"] + (["best.pt"] if best else []):
        torch.save(body, os.path.join(run, name + ".tmp"))
        os.replace(os.path.join(run, name + ".tmp"), os.path.join(run, name))
