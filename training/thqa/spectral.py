"""A spectral head beside the thqa network: how far band energies alone, and a mix of the two,
get on the before/after order (issue #19; docs/history.md, 2026-12-03). Research, not shipped.

Per frame: the 5 Haar band energies of each of the 16 contract patches (`THQA.band_features`),
as the mean of their logs and the log of their means over the patches (10 values); per version
the mean over its frames. A quadratic ridge fit (standardised features, their squares, a
constant) to the version targets. Then the mix `w * network + (1 - w) * head`, for each w:
1. held out: the head fitted on train35 less train.HOLDOUT, the network a checkpoint trained
   without them (`--holdout-ckpt`), scored on the held-out clips' contract patches;
2. val: the head fitted on all of train35, the network the shipped ONNX model, on the val cache.
Prints (SRCC+PLCC)/2 or SRCC/PLCC, MAE, before/after signs and the weakest family.

With `--other HELDOUT_CKPT FULL_CKPT` the second member is another network instead of the head
(e.g. one trained with `--bands --ablate scale mscn`).

Usage: python -m training.thqa.spectral [--weights 1,0.7,0.5,0.4,0.3,0] [--other H.pt F.pt]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from ntcommon import degrade

from . import display
from .dataset import CACHE, G, P
from .model import THQA
from .train import before_after, held_out

ROOT = Path(__file__).resolve().parents[2]
BANDS = THQA(bands=True)


def frame_features(patches: np.ndarray) -> np.ndarray:
    """uint8 [F, N, P, P] -> [F, 10]: mean log band energy and log mean band energy."""
    x = torch.from_numpy(patches.reshape(-1, 1, P, P)).float() / 255.0
    with torch.no_grad():
        lb = BANDS.band_features(x).view(patches.shape[0], patches.shape[1], -1)
    e = torch.exp(lb) - 1e-6
    return torch.cat([lb.mean(1), torch.log(e.mean(1) + 1e-6)], 1).numpy()


def load(files):
    """-> features [V, 10], targets [V], info (train.before_after's), contract patches per version."""
    xs, ys, info, pts = [], [], [], []
    for f in files:
        d = np.load(f)
        patches, names, families = d["patches"], d["names"], d["families"]
        first = len(info)
        for v in range(patches.shape[0]):
            p = np.ascontiguousarray(patches[v, :, : G * G])
            xs.append(frame_features(p).mean(0))
            ys.append(float(d["targets"][v].mean()))
            info.append({"first": first, "version": str(names[v]), "target": ys[-1],
                         "family": str(families[v])})
            pts.append(p)
    return np.array(xs), np.array(ys), info, pts


class Head:
    """Quadratic ridge regression on standardised features."""

    def __init__(self, x: np.ndarray, y: np.ndarray, ridge: float = 1.0):
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-9
        a = self.design(x)
        self.coef = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y)

    def design(self, x):
        z = (x - self.mu) / self.sd
        return np.concatenate([z, z * z, np.ones((len(z), 1))], 1)

    def __call__(self, x):
        return self.design(x) @ self.coef


def summary(p, y, info) -> str:
    right, n = before_after(p, info)
    fam = {}
    for f in sorted({r["family"] for r in info} - {"pristine"}):
        i = [k for k, r in enumerate(info) if r["family"] == f]
        if len(i) > 2:
            fam[f] = (spearmanr(p[i], y[i])[0] + pearsonr(p[i], y[i])[0]) / 2
    worst = min(fam, key=fam.get)
    return (f"SRCC {spearmanr(p, y)[0]:.3f} PLCC {pearsonr(p, y)[0]:.3f} MAE {np.abs(p - y).mean():.3f} "
            f"before/after {right}/{n}, weakest family {worst} {fam[worst]:.3f}")


def val_records(model_path: Path, cache: Path):
    """-> features, targets, info, the ONNX model's scores, contract patches (val cache)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    xs, ys, info, net, pts = [], [], [], [], []
    for js in sorted((cache / "yuv").glob("*.json")):
        m = json.loads(js.read_text())
        disp = min(m["width"], m["height"])
        first = len(info)
        for v in m["versions"]:
            raw = (cache / "yuv" / f"{m['clip']}__{v['name']}.yuv").read_bytes()
            y, _, _ = degrade.split_i420(raw, v["width"], v["height"])
            pt = np.stack([display.patches(f, disp, G, P) for f in y])
            net.append(np.mean([sess.run(["score"], {"patches": (p.astype(np.float32) / 255)[:, None],
                                                     "scale": np.zeros((G * G, 1), np.float32)})[0][0, 0]
                                for p in pt]))
            xs.append(frame_features(pt).mean(0))
            ys.append(float(np.mean(v["targets"])))
            info.append({"first": first, "version": v["name"], "target": ys[-1], "family": v["family"]})
            pts.append(pt)
    return np.array(xs), np.array(ys), info, np.array(net), pts


def network_scores(ckpt: Path, pts) -> np.ndarray:
    """Version scores (mean frame score) of a checkpoint on contract patches [F, N, P, P]."""
    net = THQA.from_state(torch.load(ckpt)["model"]).eval()
    with torch.no_grad():
        return np.array([net.frames(torch.from_numpy(p).float()[:, :, None] / 255,
                                    torch.zeros(p.shape[0], G * G, 1)).mean().item() for p in pts])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=CACHE / "train35")
    ap.add_argument("--holdout-ckpt", type=Path, default=CACHE / "ckpt-H" / "last.pt")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "thqa.onnx")
    ap.add_argument("--val-cache", type=Path, default=CACHE / "val")
    ap.add_argument("--weights", default="1,0.7,0.5,0.4,0.3,0")
    ap.add_argument("--other", nargs=2, type=Path, metavar=("HELDOUT_CKPT", "FULL_CKPT"),
                    help="mix with a second network instead of the head: its checkpoint trained "
                         "without the held-out clips and the one trained on all")
    a = ap.parse_args()
    torch.set_num_threads(1)
    weights = [float(w) for w in a.weights.split(",")]
    files = sorted(a.data.glob("*.npz"))
    held = [f for f in files if held_out(f)]
    xh, yh, ih, ph = load(held)
    if a.other:
        other = network_scores(a.other[0], ph)
    else:
        xt, yt, _, _ = load([f for f in files if f not in held])
        other = Head(xt, yt)(xh)
    pn = network_scores(a.holdout_ckpt, ph)
    for w in weights:
        print(f"held out, w={w:.1f}: {summary(w * pn + (1 - w) * other, yh, ih)}", flush=True)
    xv, yv, iv, nv, pv = val_records(a.model, a.val_cache)
    if a.other:
        other = network_scores(a.other[1], pv)
    else:
        xa, ya, _, _ = load(files)
        other = Head(xa, ya)(xv)
    for w in weights:
        print(f"val, w={w:.1f}: {summary(w * nv + (1 - w) * other, yv, iv)}", flush=True)


if __name__ == "__main__":
    main()
