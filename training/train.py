"""Train the ntiresr network on the cached degraded clips (see prepare_data.py).

    python -m training.train --config training/configs/v9.toml [--minutes 5 ...]

Each shipped stage's options are in training/configs/<stage>.toml (keys are the options below,
without their dashes); options on the command line override the file's. Without --config:

    python -m training.train --frames 360 --seed 2028 --minutes 85 --rep 64 --out training/runs/v6

(PixelNet with RepConv training, as shipped; `--rep 0` trains v5's plain convs. NtireSR, the v1-v4
network, and the options of the experiments that no shipped model uses are retired:
docs/history.md.)

Resumable: re-running with the same --out continues from its last checkpoint. Sequences of
consecutive frames are unrolled through the recurrence from an empty state, as the element starts.
"""

import argparse
import random
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ntcommon.clips import SOFT, TRAIN_QPS

from .model import PixelNet, gflop, pack, reconstruct
from .prepare_data import CACHE
from .reparam import RepConv


class Frames:
    """All cached clips, memory-mapped (runs side by side share the page cache): per clip the HR
    planes and the decoded LR planes per QP."""

    def __init__(self, cache: Path, frames: int = 120):
        self.clips = []
        for d in sorted(cache.iterdir()):
            if not (d / f"qp{TRAIN_QPS[-1]}_v.npy").exists():
                continue
            hr = [np.load(d / f"hr_{c}.npy", mmap_mode="r") for c in "yuv"]
            lr = {qp: [np.load(d / f"qp{qp}_{c}.npy", mmap_mode="r") for c in "yuv"] for qp in TRAIN_QPS}
            n = min(frames, len(hr[0]), *(len(v[0]) for v in lr.values()))
            self.clips.append((d.name, hr, lr, n))
        print("clips:", " ".join(c[0] for c in self.clips), flush=True)

    def batch(self, size: int, seq: int, crop: int, rng: random.Random):
        """Tensors (seq, size, C, H, W) in 0..1 for LR y,u,v and HR y,u,v, and per sample (size,)
        whether its chroma is natural (not from a halved soft clip)."""
        out = [[] for _ in range(6)]
        natural = []
        for _ in range(size):
            name, hr, lr, n = rng.choice(self.clips)
            natural.append(name not in SOFT)
            qp = rng.choice(TRAIN_QPS)
            t = rng.randrange(0, n - seq + 1)
            ly = lr[qp][0]
            h, w = ly.shape[1:]
            y0 = rng.randrange(0, (h - crop) // 2 + 1) * 2
            x0 = rng.randrange(0, (w - crop) // 2 + 1) * 2
            c2, cy, cx = crop // 2, y0 // 2, x0 // 2
            parts = [
                lr[qp][0][t : t + seq, y0 : y0 + crop, x0 : x0 + crop],
                lr[qp][1][t : t + seq, cy : cy + c2, cx : cx + c2],
                lr[qp][2][t : t + seq, cy : cy + c2, cx : cx + c2],
                hr[0][t : t + seq, 4 * y0 : 4 * (y0 + crop), 4 * x0 : 4 * (x0 + crop)],
                hr[1][t : t + seq, 4 * cy : 4 * (cy + c2), 4 * cx : 4 * (cx + c2)],
                hr[2][t : t + seq, 4 * cy : 4 * (cy + c2), 4 * cx : 4 * (cx + c2)],
            ]
            flip = rng.random() < 0.5
            for o, p in zip(out, parts):
                o.append(p[:, :, ::-1] if flip else p)
        planes = [torch.from_numpy(np.stack(o, 1).astype(np.float32) / 255.0).unsqueeze(2) for o in out]
        return [*planes, torch.tensor(natural, dtype=torch.float32)]


def unroll(model, chroma_weight, ly, lu, lv, hy, hu, hv, natural, perceptual=None, every=False,
           temporal=0.0):
    """Runs a sequence from an empty state; returns the mean L1 error: luma, plus
    weighted chroma on samples whose chroma is natural. Halved soft clips have sharper chroma
    (relative to luma) than camera footage: learning chroma from them made val chroma worse than
    bicubic at low QP. `perceptual` (a Perceptual), if given, adds its luma terms on the last
    frame of each sequence (they cost far more than L1 per frame), or averaged over every frame
    with `every`, so that texture carried in the state is judged on each frame it reaches.
    `temporal` weighs the L1 distance of consecutive frames' luma changes to the truth's (the
    flicker that tRMSE-Y measures)."""
    err = lambda d: d.abs()
    mask = natural.view(-1, 1, 1, 1)
    chroma_err = lambda a, b: (err(a - b) * mask).mean() / mask.mean().clamp(min=1e-6)
    frames = [pack(ly[t], lu[t], lv[t]) for t in range(len(ly))]
    n, _, h, w = frames[0].shape
    state = torch.zeros(n, model.state_ch, h, w)
    loss, outputs = 0.0, []
    for t, frame in enumerate(frames):
        residual, state = model(frame, frames[max(t - 1, 0)], state)
        y, u, v = reconstruct(residual, ly[t], lu[t], lv[t])
        loss = loss + err(y - hy[t]).mean() + chroma_weight * (chroma_err(u, hu[t]) + chroma_err(v, hv[t]))
        if temporal and outputs:
            loss = loss + temporal * ((y - outputs[-1]) - (hy[t] - hy[t - 1])).abs().mean()
        outputs.append(y)
    loss = loss / len(frames)
    if perceptual is not None:
        # Every term is a mean over the batch: on the frames stacked it is their mean.
        loss = loss + (perceptual(torch.cat(outputs), hy.flatten(0, 1)) if every
                       else perceptual(y, hy[-1]))
    return loss


class Perceptual(nn.Module):
    """Structure and perceptual terms on luma (issue #21), each with its weight (0: off):
    1 - MS-SSIM (pytorch-msssim), 1 - VMAF/100 and 1 - VMAF-NEG/100 (vmaf-torch, per crop, no
    motion feature), and the L1 distance of the orthonormal 2-D FFT amplitudes. Output luma is
    clamped to 0..1 first, as the element does."""

    def __init__(self, msssim: float = 0.0, vmaf: float = 0.0, vmaf_neg: float = 0.0,
                 fft: float = 0.0):
        super().__init__()
        self.w = {"msssim": msssim, "vmaf": vmaf, "vmaf_neg": vmaf_neg, "fft": fft}
        if vmaf:
            from vmaf_torch import VMAF
            self.vmaf = VMAF(enable_motion=False)
        if vmaf_neg:
            from vmaf_torch import VMAF
            self.vmaf_neg = VMAF(NEG=True, enable_motion=False)
        self.last: dict[str, float] = {}

    def terms(self, y, hy) -> dict:
        y = y.clamp(0, 1)
        out = {}
        if self.w["msssim"]:
            from pytorch_msssim import ms_ssim
            out["msssim"] = 1 - ms_ssim(y, hy, data_range=1.0)
        if self.w["vmaf"]:
            out["vmaf"] = 1 - self.vmaf(hy * 255, y * 255).mean() / 100
        if self.w["vmaf_neg"]:
            out["vmaf_neg"] = 1 - self.vmaf_neg(hy * 255, y * 255).mean() / 100
        if self.w["fft"]:
            amp = lambda z: torch.fft.rfft2(z, norm="ortho").abs()
            out["fft"] = (amp(y) - amp(hy)).abs().mean()
        return out

    def forward(self, y, hy):
        t = self.terms(y, hy)
        self.last = {k: v.item() for k, v in t.items()}
        return sum(self.w[k] * v for k, v in t.items())


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path,
                    help="a TOML file of these options (keys as spelled here without the dashes, e.g. "
                    "vmaf-neg = 0.002, perceptual-every = true), e.g. training/configs/v9.toml; "
                    "options given on the command line override its values")
    ap.add_argument("--out", type=Path, default=Path("training/runs/v1"))
    ap.add_argument("--minutes", type=float, default=70)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=3)
    ap.add_argument("--crop", type=int, default=48, help="low-res luma crop (even)")
    ap.add_argument("--arch", choices=["pixel"], default="pixel",
                    help="pixel: PixelNet (v5-v10, luma features at low-res luma resolution), the only "
                    "one left (v1-v4's cell is retired); kept for the command lines that name it")
    ap.add_argument("--lr", type=float, default=1e-3, help="start rate")
    ap.add_argument("--channels", type=int, default=16, help="feature channels")
    ap.add_argument("--body", type=int, default=5, help="body 3x3 convs")
    ap.add_argument("--chroma", type=int, default=16, help="channels of PixelNet's chroma head")
    ap.add_argument("--rep", type=int, default=64,
                    help="PixelNet: train its luma convs over-parameterised (RepConv, expanded to "
                    "this many channels), fused into plain convs on export; 0: plain convs (v5)")
    ap.add_argument("--extra", type=int, default=0,
                    help="zero-initialised residual blocks after the body (two 3x3 convs each, "
                    "model.ResBlock): a grown model starts at its source's function")
    ap.add_argument("--frames", type=int, default=120,
                    help="use the first N cached frames of each clip (prepare_data.py caches 360)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--chroma-weight", type=float, default=0.5, help="weight of U and V L1 each")
    ap.add_argument("--init-from", type=Path, help="start from a trained (shallower or equal) "
                    "model, e.g. training/checkpoints/v6-last.pt for a fine-tune")
    ap.add_argument("--msssim", type=float, default=0.0, help="weight of 1 - MS-SSIM (luma)")
    ap.add_argument("--vmaf", type=float, default=0.0, help="weight of 1 - VMAF/100 (vmaf-torch)")
    ap.add_argument("--vmaf-neg", type=float, default=0.0, help="weight of 1 - VMAF-NEG/100")
    ap.add_argument("--fft", type=float, default=0.0, help="weight of the FFT amplitude L1")
    ap.add_argument("--perceptual-every", action=argparse.BooleanOptionalAction, default=False,
                    help="the perceptual terms on every frame of each sequence (default: its last)")
    ap.add_argument("--temporal", type=float, default=0.0,
                    help="weight of the L1 error of consecutive frames' luma change (flicker)")
    ap.add_argument("--warmup", type=int, default=0,
                    help="steps of linear warm-up of the rate (fresh Adam on a trained net); 0: none")
    ap.add_argument("--save-every", type=float, default=120,
                    help="seconds between writes of <out>/last.pt (the run resumes from it)")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="also keep an exponential moving average of the weights with this decay "
                    "per step (e.g. 0.999), written as final-ema.pt; 0: off")
    return ap


def config_argv(ap: argparse.ArgumentParser, path: Path) -> list[str]:
    """A config file's options as command-line arguments, so that they are read exactly as the
    same options on the command line would be (and any given after them win)."""
    with open(path, "rb") as f:
        config = tomllib.load(f)
    argv = []
    for key, value in config.items():
        action = ap._option_string_actions.get(f"--{key}")
        if action is None or key == "config" or key == "help":
            raise SystemExit(f"{path}: {key!r} is not an option of training/train.py")
        if isinstance(action, argparse.BooleanOptionalAction):
            if not isinstance(value, bool):
                raise SystemExit(f"{path}: {key} must be true or false, not {value!r}")
            argv.append(f"--{key}" if value else f"--no-{key}")
        elif isinstance(value, (bool, dict, list)) or not isinstance(value, (str, int, float)):
            raise SystemExit(f"{path}: {key} must be a string or a number, not {value!r}")
        else:
            argv += [f"--{key}", str(value)]
    return argv


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """train.py's options from the command line (default sys.argv), after those of its --config."""
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = parser()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    known, _ = pre.parse_known_args(argv)
    return ap.parse_args((config_argv(ap, known.config) if known.config else []) + argv)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    model = PixelNet(a.channels, a.body, chroma=a.chroma, rep=a.rep, extra=a.extra)
    if a.init_from:
        grow_from(model, a.init_from)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    ema = WeightAverage(model, a.ema) if a.ema else None
    perceptual = None
    if a.msssim or a.vmaf or a.vmaf_neg or a.fft:
        perceptual = Perceptual(a.msssim, a.vmaf, a.vmaf_neg, a.fft)
        print("perceptual weights:", perceptual.w, flush=True)
    ckpt = a.out / "last.pt"
    step, spent = resume(ckpt, model, opt, rng, ema)
    print(f"{gflop(model):.2f} GFLOP per 480x270 frame, "
          f"{sum(p.numel() for p in model.parameters())} parameters", flush=True)
    data = Frames(CACHE, a.frames)
    budget = a.minutes * 60
    t0, last_save, running = time.time() - spent, time.time(), None
    while time.time() - t0 < budget:
        frac = (time.time() - t0) / budget
        warm = min(1.0, (step + 1) / a.warmup) if a.warmup else 1.0
        for g in opt.param_groups:  # cosine decay to 5% of the start rate (after any warm-up)
            g["lr"] = warm * a.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
        loss = unroll(model, a.chroma_weight, *data.batch(a.batch, a.seq, a.crop, rng), perceptual,
                      a.perceptual_every, a.temporal)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if ema is not None:
            ema.update(model, step)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            terms = "".join(f" {k} {v:.4f}" for k, v in perceptual.last.items()) if perceptual else ""
            print(f"step {step} {(time.time() - t0) / 60:.1f} min loss {running * 255:.3f}{terms}",
                  flush=True)
        if time.time() - last_save > a.save_every:
            save(ckpt, model, opt, step, time.time() - t0, rng, ema)
            last_save = time.time()
    save(ckpt, model, opt, step, time.time() - t0, rng, ema)
    torch.save(model.state_dict(), a.out / "final.pt")
    if ema is not None:
        torch.save(ema.shadow, a.out / "final-ema.pt")
    print("done", step, flush=True)


def grow_from(model: nn.Module, path: Path) -> None:
    """Loads a trained model with the same width and at most as many body convs into `model`.

    Body convs the source lacks start as identity kernels, so training resumes from (nearly) the
    source's function: only negative activations change, scaled by the extra leaky ReLU.
    """
    s = torch.load(path, weights_only=False)
    s = s.get("model", s)
    own = model.state_dict()
    for k, v in s.items():
        if k not in own:
            raise SystemExit(f"{path}: tensor {k} is not in the model")
        if own[k].shape != v.shape:
            raise SystemExit(f"{path}: tensor {k} has shape {tuple(v.shape)}, "
                             f"the model wants {tuple(own[k].shape)}")
        own[k] = v
    model.load_state_dict(own)
    with torch.no_grad():
        for conv in model.body[len({k.split(".")[1] for k in s if k.startswith("body.")}):]:
            conv.weight.zero_()
            conv.bias.zero_()
            if isinstance(conv, RepConv):  # its identity branch is the identity kernel
                conv.project.zero_()
                conv.point.zero_()
                continue
            for c in range(conv.out_channels):
                conv.weight[c, c, 1, 1] = 1.0
    print(f"grown from {path}", flush=True)


class WeightAverage:
    """An exponential moving average of a model's weights (its state dict), updated after every
    optimiser step: the averaged network has less of the last steps' noise than the raw one."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        # Short memory at first (the early weights are far from where training goes).
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            self.shadow[k].lerp_(v, 1 - d)


def resume(path: Path, model: nn.Module, opt, rng: random.Random, ema=None) -> tuple[int, float]:
    """Restores a run from its last.pt, if there is one: weights, optimiser, averaged weights,
    the data sampler's RNG; returns (step, seconds spent), (0, 0.0) for a fresh run."""
    if not path.exists():
        return 0, 0.0
    s = torch.load(path, weights_only=False)  # our own checkpoint: holds the RNG state
    model.load_state_dict(s["model"])
    opt.load_state_dict(s["opt"])
    if ema is not None:
        if "ema" not in s:
            raise SystemExit(f"{path}: no averaged weights to resume --ema from")
        ema.shadow = s["ema"]
    rng.setstate(s["rng"])
    print(f"resumed at step {s['step']} ({s['seconds'] / 60:.1f} min)", flush=True)
    return s["step"], s["seconds"]


def save(path, model, opt, step, seconds, rng, ema=None):
    tmp = path.with_suffix(".tmp")
    s = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
         "seconds": seconds, "rng": rng.getstate()}
    if ema is not None:
        s["ema"] = ema.shadow
    torch.save(s, tmp)
    tmp.replace(path)


if __name__ == "__main__":
    main()
