"""Gradient norm of each loss term at a checkpoint, on training batches (never val/): the scale
the perceptual weights of train.py (--msssim, --vmaf, --vmaf-neg, --fft) are set against.

    python -m training.loss_scale training/checkpoints/v6-last.pt [--batches 4] [--threads 1]

Per term: its value and the norm of its gradient over the model's parameters, mean over batches
drawn as train.py draws them (8 sequences x 3 frames, 48x48 low-res luma crops, seed 7); the
perceptual terms on the last frame of each sequence, as in training. Also the seconds per term.
"""

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch

from .model import PixelNet, pack, reconstruct
from .prepare_data import CACHE
from .train import Frames, Perceptual, grow_from, unroll


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    rng = random.Random(7)
    model = PixelNet(16, 5, rep=64)
    grow_from(model, a.checkpoint)
    data = Frames(CACHE, a.frames)
    perc = Perceptual(1, 1, 1, 1)
    params = [p for p in model.parameters()]
    stats = {}
    for _ in range(a.batches):
        batch = data.batch(8, 3, 48, rng)
        terms = {"l1": lambda: unroll(model, 0.5, *batch)}
        ly, lu, lv, hy = batch[:4]
        for k in perc.w:
            def term(k=k):
                frames = [pack(ly[t], lu[t], lv[t]) for t in range(len(ly))]
                state = torch.zeros(len(batch[-1]), model.state_ch, *frames[0].shape[2:])
                for t, f in enumerate(frames):
                    residual, state = model(f, frames[max(t - 1, 0)], state)
                y = reconstruct(residual, ly[-1], lu[-1], lv[-1])[0]
                return perc.terms(y, hy[-1])[k]
            terms[k] = term
        for k, f in terms.items():
            t0 = time.time()
            model.zero_grad()
            v = f()
            v.backward()
            g = torch.sqrt(sum((p.grad**2).sum() for p in params if p.grad is not None)).item()
            stats.setdefault(k, []).append((v.item(), g, time.time() - t0))
    for k, s in stats.items():
        v, g, sec = np.mean(s, 0)
        print(f"{k:9} value {v:.5f} grad norm {g:.5f} ({sec:.2f} s)")
    g1 = np.mean([s[1] for s in stats["l1"]])
    print("weight for a gradient norm equal to L1's: " + " ".join(
        f"{k} {g1 / np.mean([x[1] for x in s]):.4g}" for k, s in stats.items() if k != "l1"))


if __name__ == "__main__":
    main()
