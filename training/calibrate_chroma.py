"""Scale the chroma residual of a trained model so that no training QP loses chroma PSNR.

    python -m training.calibrate_chroma training/runs/v5/final.pt training/runs/v5/calibrated.pt

Trained with L1, the network over-corrects chroma at low QP: at QP 17 its U/V PSNR is 0.5 dB
below plain bicubic on training clips (and at QP 22 on val clips A03 and A16), while at QP 32-37
it gains more than 1 dB. Scaling the chroma residual by one factor `a` (the model's linear chroma
read-out, `scale_chroma`) keeps luma and the recurrent state bit-identical. `a` is chosen on
training clips only (every third clip with natural chroma, first 4 frames, every training QP):
the one whose worst QP gains most over bicubic chroma (maximin), from a grid of 0.05 steps; of
factors within 0.01 dB of that best, the smallest.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ntcommon.clips import SOFT, TRAIN_QPS

from .model import load, pack, upscale
from .train import CACHE

GRID = [round(0.05 * i, 2) for i in range(21)]


def chroma_psnr_gains(model: nn.Module, frames: int = 4) -> dict[int, np.ndarray]:
    """Per QP: mean over clips of chroma PSNR gain over bicubic for each factor in GRID."""
    names = [d.name for d in sorted(CACHE.iterdir()) if d.name not in SOFT][::3]
    print("clips:", " ".join(names), flush=True)
    gains = {qp: [] for qp in TRAIN_QPS}
    for name in names:
        d = CACHE / name
        hu, hv = (np.load(d / f"hr_{c}.npy", mmap_mode="r")[:frames].astype(np.float64) for c in "uv")
        for qp in TRAIN_QPS:
            lr = [torch.from_numpy(np.load(d / f"qp{qp}_{c}.npy", mmap_mode="r")[:frames]
                                   .astype(np.float32) / 255)[:, None] for c in "yuv"]
            with torch.no_grad():
                packed = [pack(*(p[i : i + 1] for p in lr)) for i in range(frames)]
                state = torch.zeros(1, model.state_ch, *packed[0].shape[2:])
                res = []
                for i, f in enumerate(packed):
                    r, state = model(f, packed[max(i - 1, 0)], state)
                    res.append(r)
                res = torch.cat(res)
                _, bu, bv = upscale(*lr)
                ru, rv = F.pixel_shuffle(res[:, 64:80], 4), F.pixel_shuffle(res[:, 80:96], 4)

            def psnr(a):
                u = np.clip(np.round((bu + a * ru)[:, 0].numpy() * 255), 0, 255)
                v = np.clip(np.round((bv + a * rv)[:, 0].numpy() * 255), 0, 255)
                mse = (np.mean((u - hu) ** 2) + np.mean((v - hv) ** 2)) / 2
                return 10 * np.log10(255**2 / mse)

            base = psnr(0.0)
            gains[qp].append([psnr(a) - base for a in GRID])
    return {qp: np.mean(g, 0) for qp, g in gains.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load(a.checkpoint)
    gains = chroma_psnr_gains(model)
    worst = np.min(np.stack(list(gains.values())), 0)
    # The top of the curve is flat: take the smallest factor within 0.01 dB of the best worst-QP
    # gain (less chroma residual, less risk on unseen clips).
    best = GRID[int(np.argmax(worst >= worst.max() - 0.01))]
    print("QP   " + " ".join(f"{g:>6}" for g in GRID))
    for qp, g in gains.items():
        print(f"{qp:<4} " + " ".join(f"{v:+6.2f}" for v in g))
    print(f"chroma factor {best}: worst-QP gain {worst.max():+.3f} dB (1.0 gives {worst[-1]:+.3f})")
    model.scale_chroma(best)
    torch.save(model.state_dict(), a.out)


if __name__ == "__main__":
    main()
