"""Train thqa on cache/train/*.npz (dataset.py): frame score vs clamp(VMAF/20, 0, 5).

Loss per batch of frames: L1 + 0.5 * (1 - Pearson correlation over the batch), and with
--pair-weight w: half the batch is the other half's frames in another version of the same clip,
plus w * L1 of the score differences against the target differences (content cancels out). With
--upscale-pairs q (default 0: off), a pair whose first frame is an x1/4 H.265 decode (`x4-qpQ`) is,
with probability q, made with the same frame upscaled from that decode (`x4-qpQ-ntiresr` or the
peer's `x4-qpQ-<peer>`, picked at random among those the clip has), and an upscale's pair with its
decode: the before/after pairs that ntiresr is judged on. Each frame is
seen through N=16 patches: the contract positions (half the time) or random positions, with a
random flip/transpose of all its patches. A few train clips are held out (HOLDOUT) to watch
generalisation (clip-level SRCC/PLCC/MAE and the before/after signs, `before_after`, logged
every 500 steps); the last checkpoint is the result (no selection on the val clips).
Time-boxed (--minutes) with a cosine learning-rate schedule over that time; checkpoints every
--ckpt-minutes to cache/ckpt/ (resume with --resume).

Usage: nice -n 5 .venv/bin/python -m training.thqa.train --minutes 16 --seed 2026
"""

import argparse
import json
import math
import os
import re
import time
from pathlib import Path

import numpy as np
import torch

from .dataset import CACHE, N
from .model import MS_FLIP, MS_TRANSPOSE, NMS, THQA, K, _gauss, mflops, n_params

HOLDOUT = ("A09", "A14", "B05", "B08")  # B05/B08: same person, kept together


def held_out(path: Path) -> bool:
    """Whether a clip variant's file (any of its variants, e.g. the transposed A14T) is held out."""
    return path.stem.rstrip("T") in HOLDOUT


def _valid_blur(x: np.ndarray) -> np.ndarray:
    from scipy.ndimage import correlate1d

    g, c = _gauss().numpy().astype(np.float32), K // 2
    y = correlate1d(x, g, axis=2, mode="constant")[:, :, c : x.shape[2] - c]
    return correlate1d(y, g, axis=1, mode="constant")[:, c : x.shape[1] - c]


def _mscn(x: np.ndarray) -> np.ndarray:
    """numpy twin of THQA.mscn (no gradient needed: computed once per stored patch)."""
    mu = _valid_blur(x)
    var = np.maximum(_valid_blur(x * x) - mu * mu, 0)
    sigma = np.sqrt(var + 1e-8)
    c = K // 2
    m = (x[:, c:-c, c:-c] - mu) / (sigma + 1 / 255)
    m2 = m * m
    a = m[:, :-1, :-1]
    prods = [a * m[:, :-1, 1:], a * m[:, 1:, :-1], a * m[:, 1:, 1:], m[:, :-1, 1:] * m[:, 1:, :-1]]
    mean = lambda v: v.mean((1, 2))
    return np.stack([mean(m2), mean(np.abs(m)), mean(m2 * m2) * 0.1, *[mean(q) for q in prods],
                     mean(sigma) * 10, mean(var) * 100], 1)


def mscn_features(patches: np.ndarray) -> np.ndarray:
    """uint8 [M, P, P] -> float32 [M, 2 * NMS], as THQA.mscn_features."""
    out = []
    for k in range(0, len(patches), 4096):
        x = patches[k : k + 4096].astype(np.float32) / np.float32(255.0)
        half = (x[:, 0::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 0::2] + x[:, 1::2, 1::2]) * 0.25
        quarter = (half[:, 0::2, 0::2] + half[:, 0::2, 1::2] + half[:, 1::2, 0::2]
                   + half[:, 1::2, 1::2]) * 0.25
        out.append(np.concatenate([_mscn(half), _mscn(quarter)], 1))
    return np.concatenate(out).astype(np.float32)


def load(files):
    """-> patches uint8 [S, 32, P, P], target [S], scale [S], group [S] (clip-version id), meta,
    MSCN features [S, 32, 2 * NMS] (cached next to each file)."""
    pt, tg, sc, grp, info, ms = [], [], [], [], [], []
    for f in files:
        d = np.load(f)
        V, Fs = d["patches"].shape[:2]
        pt.append(d["patches"].reshape(V * Fs, *d["patches"].shape[2:]))
        cache = f.with_suffix(".ms.npy")
        if not cache.exists():  # written under a private name, then renamed: never seen half-written
            x = pt[-1]
            tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, mscn_features(x.reshape(-1, *x.shape[2:])).reshape(*x.shape[:2], -1))
            os.replace(tmp, cache)
        ms.append(np.load(cache))
        tg.append(d["targets"][:, :Fs].reshape(-1))
        sc.append(np.repeat(d["scale"], Fs))
        first = sum(len(t) for t in tg[:-1])
        for v in range(V):
            grp += [len(info)] * Fs
            info.append({"clip": f.stem, "version": str(d["names"][v]), "family": str(d["families"][v]),
                         "first": first, "frames": Fs, "versions": V, "v": v,
                         "target": float(d["targets"][v].mean())})
    return (np.concatenate(pt), np.concatenate(tg).astype(np.float32),
            np.concatenate(sc).astype(np.float32), np.array(grp), info, np.concatenate(ms))


PERM_FLIP = np.array(MS_FLIP + [NMS + i for i in MS_FLIP])
PERM_TRANSPOSE = np.array(MS_TRANSPOSE + [NMS + i for i in MS_TRANSPOSE])


def augment(x: np.ndarray, f: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Random flips / transpose of all patches x [n, P, P] of a frame, their MSCN features f
    [n, 2 * NMS] permuted to match."""
    if rng.random() < 0.5:
        x, f = x[..., ::-1], f[:, PERM_FLIP]
    if rng.random() < 0.5:
        x, f = x[..., ::-1, :], f[:, PERM_FLIP]
    if rng.random() < 0.5:
        x, f = np.swapaxes(x, -1, -2), f[:, PERM_TRANSPOSE]
    return x, f


def batch(data, idx, rng, train=True, jitter=0.0):
    """-> patches [B,N,1,P,P], scale [B,N,1], target [B]. With `jitter`, half the frames get their
    scale multiplied by exp(U(-jitter, jitter)) (so that scale alone cannot stand in for content:
    the train set's only 1080p-sized clips are soft ones)."""
    pt, tg, sc, msf = data[0], data[1], data[2], data[5]
    xs, fs = [], []
    for i in idx:
        if train and rng.random() < 0.5:
            sel = rng.choice(2 * N, N, replace=False)
        else:
            sel = np.arange(N)  # contract positions
        x, f = pt[i][sel], msf[i][sel]
        if train:
            x, f = augment(x, f, rng)
        xs.append(x)
        fs.append(f)
    x = torch.from_numpy(np.ascontiguousarray(np.stack(xs))).float().div_(255.0)[:, :, None]
    ms = torch.from_numpy(np.stack(fs))
    scl = sc[idx].copy()
    if train and jitter > 0:
        on = rng.random(len(idx)) < 0.5
        scl[on] *= np.exp(rng.uniform(-jitter, jitter, on.sum())).astype(np.float32)
    s = torch.from_numpy(scl)[:, None, None].expand(-1, N, 1).contiguous()
    return x, s, torch.from_numpy(tg[idx]), ms


def upscale_partners(info) -> list[list[int]]:
    """Per version (index into info): the version indices (v, within its clip variant) of its
    before/after partners: x4-qpQ <-> x4-qpQ-ntiresr / x4-qpQ-<peer>; [] for other versions."""
    by = {(r["first"], r["version"]): r["v"] for r in info}
    out = []
    for r in info:
        m = re.fullmatch(r"(x4-qp\d+)(-.+)?", r["version"])
        if m is None:
            out.append([])
        elif m.group(2) is None:  # a decode: its upscales
            out.append([v for (first, name), v in by.items() if first == r["first"]
                        and name.startswith(r["version"] + "-")])
        else:  # an upscale: its decode
            out.append([by[(r["first"], m.group(1))]] if (r["first"], m.group(1)) in by else [])
    return out


def partners(data, idx, rng, up: float = 0.0, up_map=None) -> np.ndarray:
    """For every frame in idx, the same frame (clip variant and index) in another version; with
    probability `up`, for x1/4 decodes and their upscales, the before/after partner (up_map =
    upscale_partners(info))."""
    grp, info = data[3], data[4]
    out = []
    for i in idx:
        g = grp[i]
        first = info[g]["first"]  # first frame of the clip variant's first version
        fs, nv = info[g]["frames"], info[g]["versions"]
        f = i - first - info[g]["v"] * fs
        if up > 0 and up_map[g] and rng.random() < up:
            v = up_map[g][rng.integers(0, len(up_map[g]))]
        else:
            v = rng.integers(0, nv)
        out.append(first + v * fs + f)
    return np.array(out)


def pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / (a.norm() * b.norm() + 1e-8)


def srcc(a, b):
    from scipy.stats import pearsonr, spearmanr

    return float(spearmanr(a, b)[0]), float(pearsonr(a, b)[0])


@torch.no_grad()
def evaluate(model, data, rng):
    """Clip-level (version-level) SRCC/PLCC on held-out data, contract patches."""
    model.eval()
    preds = []
    for k in range(0, len(data[1]), 256):
        idx = np.arange(k, min(k + 256, len(data[1])))
        x, s, _, ms = batch(data, idx, rng, train=False)
        preds.append(model.frames(x, s, ms).numpy())
    model.train()
    p = np.concatenate(preds)
    grp, info = data[3], data[4]
    cp = np.array([p[grp == g].mean() for g in range(len(info))])
    ct = np.array([i["target"] for i in info])
    s, pl = srcc(cp, ct)
    right, n = before_after(cp, info)
    return {"srcc": s, "plcc": pl, "mae": float(np.abs(cp - ct).mean()), "ba_right": right, "ba_n": n}


def before_after(cp, info, qps=(22, 27, 32, 37), min_gain=0.1) -> tuple[int, int]:
    """Of the x1/4 H.265 decodes at `qps` whose ntiresr upscale gains >= min_gain in target
    (0.1 = 2 VMAF points), how many the clip scores `cp` put below that upscale, and how many."""
    at = {(r["first"], r["version"]): g for g, r in enumerate(info)}
    right = n = 0
    for (first, name), g in at.items():
        up = at.get((first, name + "-ntiresr"))
        if up is None or name not in {f"x4-qp{q}" for q in qps}:
            continue
        if info[up]["target"] - info[g]["target"] >= min_gain:
            n += 1
            right += int(cp[up] > cp[g])
    return right, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=CACHE / "train")
    ap.add_argument("--minutes", type=float, default=16.0)
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=CACHE / "ckpt")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--scale-jitter", type=float, default=0.0, help="log-scale jitter (e.g. 0.7)")
    ap.add_argument("--no-holdout", action="store_true", help="train on every clip")
    ap.add_argument("--pair-weight", type=float, default=0.0,
                    help="weight of the L1 loss on score differences between two versions of a frame")
    ap.add_argument("--upscale-pairs", type=float, default=0.0,
                    help="with --pair-weight: probability that an x1/4 decode's pair is its upscale "
                         "(ntiresr/peer, same QP) and vice versa (default 0: random versions only)")
    ap.add_argument("--bands", action="store_true", help="add the Haar band energies (model.py)")
    ap.add_argument("--ablate", nargs="*", default=[], choices=["scale", "mscn", "mscn-half"],
                    help="train without these inputs (their features are multiplied by 0)")
    ap.add_argument("--resume", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    files = sorted(a.data.glob("*.npz"))
    files = [f for f in files if not f.name.endswith(".tmp.npz")]
    hold = [] if a.no_holdout else [f for f in files if held_out(f)]
    tr = [f for f in files if f not in hold]
    print(f"train clips ({len(tr)}): {' '.join(f.stem for f in tr)}")
    print(f"holdout clips ({len(hold)}): {' '.join(f.stem for f in hold)}")
    data = load(tr)
    hdata = load(hold) if hold else None
    print(f"train frames {len(data[1])}, versions {len(data[4])}", flush=True)
    up_map = upscale_partners(data[4]) if a.upscale_pairs > 0 else None
    if up_map is not None:
        print(f"upscale pairs: {sum(map(bool, up_map))} of {len(up_map)} versions have partners, "
              f"{sum(map(len, up_map))} links", flush=True)
    model = THQA(bands=a.bands)
    if "scale" in a.ablate:
        model.scale_gain.zero_()
    if "mscn" in a.ablate:
        model.ms_gain.zero_()
    if "mscn-half" in a.ablate:  # keep only the MSCN statistics of the 4x4 averages
        model.ms_gain[: len(model.ms_gain) // 2] = 0
    if not a.resume:
        x, s, _, ms = batch(data, rng.integers(0, len(data[1]), 64), rng, train=False)
        err = (model.mscn_features(x.flatten(0, 1)) - ms.flatten(0, 1)).abs().max().item()
        print(f"MSCN features, numpy vs the network: max abs diff {err:.2e}")
        assert err < 1e-2, err
        model.calibrate(x.flatten(0, 1), s.flatten(0, 1))
    print(f"params {n_params(model)}, {mflops(N, data[0].shape[-1])}")
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    step, spent = 0, 0.0
    if a.resume:
        ck = torch.load(a.resume)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, spent = ck["step"], ck["seconds"]
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time() - spent
    last_ck = time.time()
    total = a.minutes * 60
    log = []
    run_l1 = run_r = 0.0
    while True:
        el = time.time() - t0
        if el >= total:
            break
        lr = a.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * el / total)))
        lr *= min(1.0, (step + 1) / 200)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, len(data[1]), a.batch // 2 if a.pair_weight else a.batch)
        if a.pair_weight:  # every frame with the same frame in another version
            idx = np.concatenate([idx, partners(data, idx, rng, a.upscale_pairs, up_map)])
        x, s, t, ms = batch(data, idx, rng, jitter=a.scale_jitter)
        p = model.frames(x, s, ms)
        l1 = (p - t).abs().mean()
        r = 1 - pearson(p, t)
        loss = l1 + 0.5 * r
        if a.pair_weight:
            h = len(idx) // 2
            loss = loss + a.pair_weight * ((p[:h] - p[h:]) - (t[:h] - t[h:])).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        run_l1 = 0.98 * run_l1 + 0.02 * l1.item()
        run_r = 0.98 * run_r + 0.02 * r.item()
        final = time.time() - t0 >= total
        if step % 500 == 0 or final:
            ev = evaluate(model, hdata, rng) if hdata else {}
            rec = {"step": step, "min": round(el / 60, 2), "lr": lr, "l1": run_l1, "1-r": run_r, **ev}
            log.append(rec)
            print(json.dumps(rec), flush=True)
        if time.time() - last_ck > a.ckpt_minutes * 60 or final:
            ck = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                  "seconds": time.time() - t0, "seed": a.seed, "args": vars(a) | {"data": str(a.data),
                  "out": str(a.out), "resume": str(a.resume)}}
            torch.save(ck, a.out / "last.pt")
            last_ck = time.time()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "seconds": time.time() - t0, "seed": a.seed}, a.out / "last.pt")
    (a.out / "log.json").write_text(json.dumps(log, indent=1))
    print(f"done: {step} steps in {(time.time() - t0) / 60:.1f} min -> {a.out / 'last.pt'}")


if __name__ == "__main__":
    main()
