"""Before / after ntiresr, clip by clip, for thqa checkpoints on cached training clips: the
x1/4 H.265 decode (judged at display size) against its ntiresr upscale, thqa's clip scores beside
the targets. For seeing which clips a checkpoint orders wrongly, in-sample or held out.

Usage: .venv/bin/python -m training.thqa.pairs --data training/thqa/cache/train35 \
           --clips A09,A06 training/thqa/cache/ckpt/last.pt [more checkpoints]
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from .dataset import CACHE
from .model import THQA
from .train import batch, load


@torch.no_grad()
def clip_scores(model: THQA, data) -> np.ndarray:
    """The mean frame score of every clip version in `data` (contract patches)."""
    rng = np.random.default_rng(0)
    preds = []
    for k in range(0, len(data[1]), 256):
        idx = np.arange(k, min(k + 256, len(data[1])))
        x, s, _, ms = batch(data, idx, rng, train=False)
        preds.append(model.frames(x, s, ms).numpy())
    p, grp = np.concatenate(preds), data[3]
    return np.array([p[grp == g].mean() for g in range(len(data[4]))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpts", type=Path, nargs="+")
    ap.add_argument("--data", type=Path, default=CACHE / "train")
    ap.add_argument("--clips", required=True, help="comma-separated clip variants, e.g. A09,A14T")
    ap.add_argument("--qps", default="22,27,32,37")
    a = ap.parse_args()
    torch.set_num_threads(1)
    data = load([a.data / f"{c}.npz" for c in a.clips.split(",")])
    info = data[4]
    at = {(r["first"], r["version"]): g for g, r in enumerate(info)}
    names = [f"x4-qp{q}" for q in a.qps.split(",")]
    for ck in a.ckpts:
        model = THQA.from_state(torch.load(ck)["model"])
        model.eval()
        cp = clip_scores(model, data)
        print(ck)
        for (first, name), g in at.items():
            up = at.get((first, name + "-ntiresr"))
            if up is None or name not in names:
                continue
            d, t = cp[up] - cp[g], info[up]["target"] - info[g]["target"]
            print(f"  {info[g]['clip']:5s} {name:8s} thqa {cp[g]:.2f} -> {cp[up]:.2f} ({d:+.2f})  "
                  f"target {info[g]['target']:.2f} -> {info[up]['target']:.2f} ({t:+.2f})"
                  f"{'' if (d > 0) == (t > 0) else '  wrong'}")


if __name__ == "__main__":
    main()
