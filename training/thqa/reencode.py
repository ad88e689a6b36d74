"""thqa: read a decoded frame's H.265 QP by re-encoding it (issue 31, a feasibility prototype).

A frame that came out of x265 at QP q is (nearly) a fixed point of x265 at QP <= q: re-encoding it
as a single intra frame changes it little and the error grows slowly with the re-encoding QP; past
q the quantiser starts to remove what the first encode kept and the error jumps. `knee` finds that
jump on the curve log10(MSE(re-encode at QP k, frame)) over a ladder of k (luma only). Nothing is
fitted: the rule has no parameter read from the labels (the rule itself, among a few, is chosen by
grouped cross-validation over the train clips: `choose`).

Per clip (the cached originals `training/cache{,-val}/<clip>/hr_{y,u,v}.npy`, as `v3_data` reads
them; `--cache-dir` points at another checkout's `training/`), SEG middle frames go through:
- h265: `ntcommon.degrade` (Lanczos x1/4, x265 constant QP, low delay) at QPS;
- h264: the same with libx264 (constant QP, no B-frames, ipratio 1, zerolatency) at H264_QPS;
- (`--sender-preset P`) the h265 decodes at PRESET_QPS made with x265 preset P (the re-encoder
  stays at x265's default, medium: how much the check depends on knowing the sender's settings);
- (`--far`) the first FAR_SEG frames at QPS, read on frames 60, 90 and 120 (P-frames far from
  the I-frame: in the main set, frames 4-20 may owe their knee to blocks skipped from the I-frame);
- (`--x1-crop`) x265 at the original's size (no downscale) at X1_QPS, read on a CROP window at a
  64-aligned offset (the CTU grid) and at one 8 px off it (the cost of a full 1080p frame is
  ~10x a 480x270 one: a check would read a crop);
- (`--extras`) the original frame at its own size ("native": should read low) and the bicubic x4
  upscale of the h265 decode at UPSCALE_QPS (what thqa sees of a decode shown enlarged);
and the frames FRAMES (0: the I-frame, the others P-frames) are re-encoded at every QP of LADDER.
`--keyframes` asks whether x265's keyframe at frame 250 can be found by a frame-difference spike;
`--cost` times the re-encodes; `--coarse` simulates cheaper ladders on the cached curves.
The MSE curves are cached in /tmp/thqa-reencode/<clip>.npz (resumable); `--report` writes the
tables of training/thqa/results/reencode.md from them.

Usage (one thread, idle priority):
  OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python -m training.thqa.reencode \
      --cache-dir /work/wt-train/training [--clips A04,B18] [--extras] [--report]
"""

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np

from ntcommon import degrade

from . import v3_data
from .v3_data import cached_frames, cached_raw, group

HERE = Path(__file__).resolve().parent
OUT = Path("/tmp/thqa-reencode")
RESULTS = HERE / "results" / "reencode.md"
SEG = 21
FRAMES = (0, 4, 12, 20)  # frame 0 is the I-frame
QPS = (17, 22, 27, 32, 37, 42)
H264_QPS = (24, 34)
UPSCALE_QPS = (22, 37)
PRESET_QPS = (22, 32, 42)
X1_QPS = (22, 37)
FAR_SEG = 121
FAR_FRAMES = (0, 60, 90, 120)
KEYINT = 250
KEY_SEG = 300
GATES = (0, 2, 3, 4, 5, 6, 8)  # candidate prominence gates
MIN_ACCEPT = 0.25
CROP = (448, 256)  # the x1 check's crop, at a 64-aligned (CTU) offset or one 8 px off it
LADDER = tuple(range(14, 48))
RULES = ("jump", "jump2", "jump3", "jump4", "step")
X265_INTRA = "keyint=1:bframes=0:scenecut=0:rc-lookahead=0:ipratio=1:pools=none:frame-threads=1:log-level=error"
X264_PARAMS = "qp={qp}:bframes=0:ipratio=1:pbratio=1:scenecut=0:rc-lookahead=0:threads=1"


def _raw_in(w: int, h: int) -> list[str]:
    return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", "25", "-i", "-"]


RAW_OUT = ["-pix_fmt", "yuv420p", "-f", "rawvideo", "-"]


def _ff(args: list[str], data: bytes) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", *args], input=data, check=True,
                          capture_output=True).stdout


def intra(raw: bytes, w: int, h: int, qp: int) -> bytes:
    """Every frame of `raw` (I420) as its own x265 intra frame at constant `qp`, decoded back."""
    enc = _ff([*_raw_in(w, h), "-c:v", "libx265", "-tune", "zerolatency",
               "-x265-params", f"qp={qp}:{X265_INTRA}", "-f", "hevc", "-"], raw)
    return _ff(["-f", "hevc", "-i", "-", *RAW_OUT], enc)


def luma(raw: bytes, w: int, h: int) -> np.ndarray:
    fs = w * h * 3 // 2
    return np.frombuffer(raw, np.uint8).reshape(-1, fs)[:, : w * h].reshape(-1, h, w)


def curves(raw: bytes, w: int, h: int, ladder=LADDER) -> np.ndarray:
    """Luma MSE of each frame of `raw` against its intra re-encode at each ladder QP: (n, len)."""
    y = luma(raw, w, h).astype(np.float32)
    out = np.zeros((len(y), len(ladder)))
    for j, q in enumerate(ladder):
        r = luma(intra(raw, w, h, q), w, h).astype(np.float32)
        out[:, j] = ((y - r) ** 2).mean(axis=(1, 2))
    return out


def knee(mse: np.ndarray, ladder=LADDER, rule: str = "jump3") -> float:
    """The QP read off one re-encoding curve: the ladder QP k after which the error jumps most.

    jump: the largest rise of log10 MSE from one rung to the next. jumpN (N = 2, 3, 4): the largest
    rise over N rungs (less noisy on P-frames, whose knee is weaker), then the largest single-rung
    rise inside that span. step: a least-squares fit of a line plus an upward step (the changepoint)."""
    L = np.log10(np.asarray(mse, float) + 1e-2)
    if rule == "step":
        x = np.arange(len(L), dtype=float)
        best, at = np.inf, 1
        for i in range(1, len(L) - 1):
            A = np.stack([np.ones_like(x), x, (x > i).astype(float)], 1)
            coef = np.linalg.lstsq(A, L, rcond=None)[0]
            sse = float(((A @ coef - L) ** 2).sum())
            if coef[2] > 0 and sse < best:
                best, at = sse, i
        return float(ladder[at])
    if not rule.startswith("jump"):
        raise ValueError(rule)
    n = int(rule[4:] or 1)
    rise = L[n:] - L[:-n]  # rise[i]: from ladder[i] to ladder[i + n]
    i = 1 + int(np.argmax(rise[1:]))  # the bottom rung cannot be told from "below the ladder"
    return float(ladder[i + int(np.argmax(np.diff(L[i:i + n + 1])))])


def prominence(mse: np.ndarray, n: int = 3) -> float:
    """How clearly the curve has a knee: the largest rise of log10 MSE over n rungs (the `jumpN`
    rule's) less the median such rise, over the median absolute deviation of the rises. A decode of the
    same encoder gives a sharp knee; an original, an upscale or another codec a flat curve."""
    L = np.log10(np.asarray(mse, float) + 1e-2)
    d = (L[n:] - L[:-n])[1:]
    med = np.median(d)
    return float((d.max() - med) / (np.median(np.abs(d - med)) + 1e-3))


def segment(src: Path) -> tuple[bytes, int, int]:
    """SEG middle frames of the cached original as raw I420, and its size."""
    return v3_data.segment(src, SEG)


def h264(raw: bytes, w: int, h: int, qp: int) -> bytes:
    """Lanczos x1/4 + libx264 constant `qp`, low delay (as degrade's x265), decoded back."""
    enc = _ff([*_raw_in(w, h), "-vf", f"scale={w // 4}:{h // 4}:flags=lanczos", "-c:v", "libx264",
               "-tune", "zerolatency", "-x264-params", X264_PARAMS.format(qp=qp), "-f", "h264", "-"], raw)
    return _ff(["-f", "h264", "-i", "-", *RAW_OUT], enc)


def pick(raw: bytes, w: int, h: int, frames=FRAMES) -> bytes:
    fs = w * h * 3 // 2
    n = len(raw) // fs
    return b"".join(raw[k * fs:(k + 1) * fs] for k in frames if k < n)


def sender(raw: bytes, w: int, h: int, qp: int, preset: str) -> bytes:
    """`degrade.degrade` with another x265 preset on the sender's side, decoded back."""
    enc = _ff([*_raw_in(w, h), "-vf", f"scale={w // 4}:{h // 4}:flags=lanczos", "-c:v", "libx265",
               "-preset", preset, "-tune", "zerolatency", "-x265-params",
               degrade.X265_PARAMS.format(qp=qp) + ":pools=none:frame-threads=1:log-level=error", "-f", "hevc", "-"],
              raw)
    return _ff(["-f", "hevc", "-i", "-", *RAW_OUT], enc)


def crop(raw: bytes, w: int, h: int, x: int, y: int, cw: int, ch: int) -> bytes:
    """A cw x ch window at (x, y) (even) of every I420 frame of `raw`."""
    fs = w * h * 3 // 2
    out = []
    for k in range(len(raw) // fs):
        f = np.frombuffer(raw[k * fs:(k + 1) * fs], np.uint8)
        yp = f[: w * h].reshape(h, w)[y:y + ch, x:x + cw]
        u = f[w * h: w * h * 5 // 4].reshape(h // 2, w // 2)[y // 2:(y + ch) // 2, x // 2:(x + cw) // 2]
        v = f[w * h * 5 // 4:].reshape(h // 2, w // 2)[y // 2:(y + ch) // 2, x // 2:(x + cw) // 2]
        out.append(yp.tobytes() + u.tobytes() + v.tobytes())
    return b"".join(out)


def spikes(y: np.ndarray, window: int = 8) -> np.ndarray:
    """Per frame t >= 1: the luma MSE between frames t and t-1 over the median of the same
    difference at the `window` frames before and after it (a keyframe of a constant-QP stream
    re-quantises the whole picture: its difference to the previous frame stands out). 0 at t = 0."""
    y = y.astype(np.float32)
    d = np.r_[0.0, ((y[1:] - y[:-1]) ** 2).mean(axis=(1, 2))]
    s = np.zeros(len(y))
    for t in range(1, len(y)):
        nb = np.r_[d[max(1, t - window):t], d[t + 1:t + 1 + window]]
        s[t] = d[t] / (np.median(nb) + 1e-6) if len(nb) else 0.0
    return s


def keyframe_hunt(clips: list[tuple[str, Path]], n: int = KEY_SEG) -> str:
    """Where the spike of `spikes` ranks the keyframe x265 puts at frame KEYINT (its default
    keyint, which ntcommon.degrade keeps) among frames 10..n-1, per clip and QP: a markdown table."""
    rows = []
    for clip, src in clips:
        if cached_frames(src) < n:
            continue
        raw, w, h = cached_raw(src, range(n))
        for qp in QPS:
            dec = luma(degrade.degrade(raw, w, h, qp), w // 4, h // 4)
            s = spikes(dec)[10:]
            rank = int((s > s[KEYINT - 10]).sum()) + 1
            rows.append((clip, qp, rank, s[KEYINT - 10], np.sort(s)[-2] if rank == 1 else s.max()))
            print(clip, qp, rank, flush=True)
    ranks = np.array([r[2] for r in rows])
    out = [f"Keyframe at frame {KEYINT} (x265's default keyint) among frames 10..{n - 1} of {len(set(r[0] for r in rows))} "
           f"clips x {len(QPS)} QPs: ranked first by the spike score in {100 * (ranks == 1).mean():.0f} %, "
           f"in the top 3 in {100 * (ranks <= 3).mean():.0f} %.", "",
           "| QP | ranked first | in the top 3 | median spike score of the keyframe | median of the runner-up |",
           "|---|---|---|---|---|"]
    for q in QPS:
        r = [x for x in rows if x[1] == q]
        out.append(f"| {q} | {sum(x[2] == 1 for x in r)} of {len(r)} | {sum(x[2] <= 3 for x in r)} of {len(r)} | "
                   f"{np.median([x[3] for x in r]):.1f} | {np.median([x[4] for x in r]):.1f} |")
    return "\n".join(out)


def coarse_knee(mse: np.ndarray, step: int = 3) -> tuple[float, int]:
    """A cheaper ladder, simulated on a full curve: every `step`-th rung, the largest rise between
    two of them, then the rungs inside that step to place the knee (the `jump` rule). Returns the
    QP and how many rungs it would have encoded."""
    lg = np.log10(np.asarray(mse, float) + 1e-2)
    idx = np.arange(0, len(lg), step)
    i = 1 + int(np.argmax(np.diff(lg[idx])[1:]))
    lo, hi = idx[i], idx[min(i + 1, len(idx) - 1)]
    return float(LADDER[lo + int(np.argmax(np.diff(lg[lo:hi + 1])))]), len(idx) + hi - lo - 1


def cost(src: Path) -> str:
    """CPU per x265 intra re-encode (and decode) of a decoded 1/4-size frame and of a full-size
    original frame of one cached clip: (34-frame run - 1-frame run) / 33, in one ffmpeg process."""
    import resource

    raw, w, h = segment(src)
    fs = w * h * 3 // 2
    small = pick(degrade.degrade(raw, w, h, 30), w // 4, h // 4, (4,))
    out = []
    for name, frame, fw, fh, n in (("1/4", small, w // 4, h // 4, 34), ("full", raw[4 * fs:5 * fs], w, h, 7)):
        cpu = []
        for k in (1, n):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            enc = _ff([*_raw_in(fw, fh), "-c:v", "libx265", "-tune", "zerolatency",
                       "-x265-params", f"qp=30:{X265_INTRA}", "-f", "hevc", "-"], frame * k)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            _ff(["-f", "hevc", "-i", "-", *RAW_OUT], enc)
            r2 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = lambda a, b: b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime  # noqa: E731
            cpu.append((t(r0, r1), t(r1, r2)))
        e, d = ((cpu[1][j] - cpu[0][j]) / (n - 1) * 1000 for j in (0, 1))
        out.append(f"{fw}x{fh} ({name}): encode {e:.0f} ms, decode {d:.1f} ms CPU per frame; "
                   f"process start + 1 frame {1000 * cpu[0][0]:.0f} ms")
    return "\n".join(out)


def collect_far(clip: str, split: str, raw: bytes, w: int, h: int) -> Path:
    """Decodes of the clip's first FAR_SEG frames at QPS, read on FAR_FRAMES (P-frames up to 120
    frames after the I-frame, where little of the I-frame is left): OUT/<clip>-f.npz."""
    path = OUT / f"{clip}-f.npz"
    if path.exists():
        return path
    lw, lh = w // 4, h // 4
    rows, small = [], []
    t = time.time()
    for qp in QPS:
        small.append(pick(degrade.degrade(raw, w, h, qp), lw, lh, FAR_FRAMES))
        rows += [("h265-far", qp, k, "own") for k in FAR_FRAMES]
    c = curves(b"".join(small), lw, lh)
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(path, mse=c, codec=np.array([r[0] for r in rows]), qp=np.array([r[1] for r in rows]),
             frame=np.array([r[2] for r in rows]), view=np.array([r[3] for r in rows]), split=split,
             clip=clip, size=np.array([lw, lh]), seconds=time.time() - t, ladder=np.array(LADDER))
    return path


def collect_x1(clip: str, split: str, src: Path) -> Path:
    """Full-size decodes (x265 at the original's size) read on a CROP window: OUT/<clip>-c.npz."""
    path = OUT / f"{clip}-c.npz"
    if path.exists():
        return path
    raw, w, h = segment(src)
    cw, ch = CROP
    x64, y64 = (w - cw) // 2 // 64 * 64, (h - ch) // 2 // 64 * 64
    rows, parts = [], []
    t = time.time()
    for qp in X1_QPS:
        dec = pick(degrade.degrade(raw, w, h, qp, size=(w, h)), w, h)
        for tag, (x, y) in (("crop64", (x64, y64)), ("crop8", (x64 + 8, y64 + 8))):
            parts.append(crop(dec, w, h, x, y, cw, ch))
            rows += [("h265-x1", qp, k, tag) for k in FRAMES]
    c = curves(b"".join(parts), cw, ch)
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(path, mse=c, codec=np.array([r[0] for r in rows]), qp=np.array([r[1] for r in rows]),
             frame=np.array([r[2] for r in rows]), view=np.array([r[3] for r in rows]), split=split,
             clip=clip, size=np.array([w, h]), seconds=time.time() - t, ladder=np.array(LADDER))
    return path


def collect(clip: str, split: str, src: Path, extras: bool, preset: str = "") -> Path:
    """Re-encoding curves of one clip's versions: OUT/<clip>.npz (skipped when it exists);
    <clip>-x.npz for the extras, <clip>-p<preset>.npz for decodes of another sender preset."""
    path = OUT / f"{clip}{'-x' if extras else ''}{'-p' + preset if preset else ''}.npz"
    if path.exists():
        return path
    raw, w, h = segment(src)
    lw, lh = w // 4, h // 4
    n = len(raw) // (w * h * 3 // 2)
    fr = [k for k in FRAMES if k < n]
    rows, small, big = [], [], []  # rows: (codec, qp, frame, size tag)
    t = time.time()
    if preset:
        for qp in PRESET_QPS:
            small.append(pick(sender(raw, w, h, qp, preset), lw, lh))
            rows += [("h265-" + preset, qp, k, "own") for k in fr]
        c = curves(b"".join(small), lw, lh)
    elif not extras:
        for qp in QPS:
            small.append(pick(degrade.degrade(raw, w, h, qp), lw, lh))
            rows += [("h265", qp, k, "own") for k in fr]
        for qp in H264_QPS:
            small.append(pick(h264(raw, w, h, qp), lw, lh))
            rows += [("h264", qp, k, "own") for k in fr]
        c = curves(b"".join(small), lw, lh)
    else:  # one P-frame: the original and the bicubic upscales, at the original's size
        k = 4 if n > 4 else 0
        big.append(pick(raw, w, h, (k,)))
        rows.append(("native", 0, k, "native"))
        for qp in UPSCALE_QPS:
            dec = degrade.degrade(raw, w, h, qp)
            up = _ff([*_raw_in(lw, lh), "-vf", f"scale={w}:{h}:flags=bicubic", *RAW_OUT], pick(dec, lw, lh, (k,)))
            big.append(up)
            rows.append(("h265", qp, k, "bicubic"))
        c = curves(b"".join(big), w, h)
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(path, mse=c, codec=np.array([r[0] for r in rows]), qp=np.array([r[1] for r in rows]),
             frame=np.array([r[2] for r in rows]), view=np.array([r[3] for r in rows]), split=split,
             clip=clip, size=np.array([w, h] if extras else [lw, lh]), seconds=time.time() - t,
             ladder=np.array(LADDER))
    return path


def load(extras: bool = False, glob: str = "") -> dict[str, np.ndarray]:
    """Every cached clip's rows, concatenated (one row per re-encoded frame)."""
    cols: dict[str, list] = {k: [] for k in ("mse", "codec", "qp", "frame", "view", "split", "clip", "group")}
    for p in sorted(OUT.glob(glob or ("*-x.npz" if extras else "*[0-9].npz"))):
        z = np.load(p)
        n = len(z["qp"])
        for k in ("mse", "codec", "qp", "frame", "view"):
            cols[k].append(z[k])
        cols["split"].append(np.repeat(str(z["split"]), n))
        cols["clip"].append(np.repeat(str(z["clip"]), n))
        cols["group"].append(np.repeat(group(str(z["clip"])), n))
    return {k: np.concatenate(v) for k, v in cols.items()}


def estimates(d: dict, rule: str) -> np.ndarray:
    return np.array([knee(m, rule=rule) for m in d["mse"]])


def folds(groups: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index per row, whole source groups per fold (as v3_eval.folds)."""
    g = np.array(sorted(set(groups)))
    np.random.default_rng(seed).shuffle(g)
    of = {x: i % k for i, x in enumerate(g)}
    return np.array([of[x] for x in groups])


def choose(d: dict, k: int = 5) -> tuple[str, list[str], np.ndarray]:
    """Grouped k-fold CV of the rule over the train h265 rows of `d`: per fold, the rule with the
    lowest MAE on the other folds reads this fold. Returns the rule best on all train rows (the one
    to ship), the per-fold picks and the out-of-fold readings (NaN off the train h265 rows)."""
    m = (d["split"] == "train") & (d["codec"] == "h265")
    est = {r: estimates(d, r) for r in RULES}
    err = {r: np.abs(est[r] - d["qp"]) for r in RULES}
    f = np.full(len(m), -1)
    f[m] = folds(d["group"][m], k)
    picks = [min(RULES, key=lambda r: err[r][m & (f != i)].mean()) for i in range(k)]
    oof = np.full(len(m), np.nan)
    for i, r in enumerate(picks):
        oof[f == i] = est[r][f == i]
    return min(RULES, key=lambda r: err[r][m].mean()), picks, oof


def combined(d: dict, frames=(4, 12, 20)) -> dict[str, np.ndarray]:
    """One row per (clip, codec, qp): the curves of `frames` averaged in the log (a check that
    re-encodes a few frames and reads the knee of their mean log10(MSE + 0.01))."""
    keys = sorted({(c, k, q) for c, k, q, f in zip(d["clip"], d["codec"], d["qp"], d["frame"]) if f in frames})
    out: dict[str, list] = {k: [] for k in ("mse", "codec", "qp", "frame", "view", "split", "clip", "group")}
    for c, k, q in keys:
        m = (d["clip"] == c) & (d["codec"] == k) & (d["qp"] == q) & np.isin(d["frame"], frames)
        out["mse"].append(10 ** np.log10(d["mse"][m] + 1e-2).mean(0) - 1e-2)
        for col in ("codec", "qp", "view", "split", "clip", "group"):
            out[col].append(d[col][m][0])
        out["frame"].append(-1)
    return {k: np.array(v) for k, v in out.items()}


def _stats(e: np.ndarray, q: np.ndarray) -> str:
    err = e - q
    if not len(err):
        return "0 | - | - | -"
    return f"{len(err)} | {np.abs(err).mean():.2f} | {100 * (np.abs(err) <= 3).mean():.0f} % | {err.mean():+.2f}"


def report() -> str:
    """The markdown tables of results/reencode.md from the cached curves."""
    d = load()
    c = combined(d)
    ch5 = c["codec"] == "h265"
    views = {"I (frame 0)": (d, d["frame"] == 0), "P (4, 12, 20), one frame": (d, d["frame"] > 0),
             "P 4+12+20, one check": (c, np.ones(len(c["qp"]), bool))}
    out = ["Rule choice: grouped 5-fold CV (one group per source person) over the train clips' H.265 rows, "
           "separately per frame type; a fold's rows are read with the rule best on the other folds (\"CV\" rows).", ""]
    chosen = {}
    for name, (dd, m) in views.items():
        sub = {k: v[m] for k, v in dd.items()}
        rule, picks, oof = choose(sub)
        chosen[name] = rule
        out.append(f"- {name}: `{rule}` (fold picks: {', '.join(picks)})")
        sub["oof"] = oof
        views[name] = (dd, m, sub)
    out += ["", "## H.265 x1/4 decodes, QP 17-42: accuracy per frame type", "",
            "| split | frames | rule | n | MAE (QP) | within +-3 | mean error |", "|---|---|---|---|---|---|---|"]
    for name, (dd, m, sub) in views.items():
        t = (sub["split"] == "train") & (sub["codec"] == "h265")
        out.append(f"| train, CV | {name} | fold's pick | {_stats(sub['oof'][t], sub['qp'][t])} |")
    for split in ("train", "val"):
        for name, (dd, m, sub) in views.items():
            for r in RULES:
                t = (sub["split"] == split) & (sub["codec"] == "h265")
                mark = " **(chosen)**" if r == chosen[name] else ""
                out.append(f"| {split} | {name} | {r}{mark} | {_stats(estimates({'mse': sub['mse'][t]}, r), sub['qp'][t])} |")
    est = {name: estimates(sub, chosen[name]) for name, (dd, m, sub) in views.items()}
    out += ["", "## Per QP (each frame type with its chosen rule): MAE / within +-3", "",
            "| split | QP | " + " | ".join(views) + " |", "|---|---|---|---|---|"]
    for split in ("train", "val"):
        for q in QPS:
            cells = []
            for name, (dd, m, sub) in views.items():
                t = (sub["split"] == split) & (sub["codec"] == "h265") & (sub["qp"] == q)
                err = est[name][t] - sub["qp"][t]
                cells.append(f"{np.abs(err).mean():.2f} / {100 * (np.abs(err) <= 3).mean():.0f} %")
            out.append(f"| {split} | {q} | {' | '.join(cells)} |")
    out += ["", "## Per source (H.265, chosen rules): the mean signed error is the per-source offset", "",
            "| clip | split | decode size | I offset | P offset | P MAE | P within +-3 | check offset | check MAE |",
            "|---|---|---|---|---|---|---|---|---|"]
    offs: dict[str, list] = {"I": [], "P": [], "check": []}
    (_, _, si), (_, _, sp), (_, _, sc) = views.values()
    ei, ep, ec = est.values()
    for clip in sorted(set(d["clip"]), key=lambda x: (str(d["split"][d["clip"] == x][0]), x)):
        sz = np.load(OUT / f"{clip}.npz")["size"]
        row = []
        for key, sub, e in (("I", si, ei), ("P", sp, ep), ("check", sc, ec)):
            t = (sub["clip"] == clip) & (sub["codec"] == "h265")
            err = e[t] - sub["qp"][t]
            offs[key].append((str(sub["split"][t][0]), err.mean()))
            row.append((err.mean(), np.abs(err).mean(), 100 * (np.abs(err) <= 3).mean()))
        out.append(f"| {clip} | {d['split'][d['clip'] == clip][0]} | {sz[0]}x{sz[1]} | {row[0][0]:+.2f} | "
                   f"{row[1][0]:+.2f} | {row[1][1]:.2f} | {row[1][2]:.0f} % | {row[2][0]:+.2f} | {row[2][1]:.2f} |")
    out += ["", "| frames | split | sources | mean offset | SD of offsets | median abs offset | max abs offset |",
            "|---|---|---|---|---|---|---|"]
    for key, v in offs.items():
        for split in ("train", "val"):
            o = np.array([x for s, x in v if s == split])
            if not len(o):
                continue
            out.append(f"| {key} | {split} | {len(o)} | {o.mean():+.2f} | {o.std():.2f} | {np.median(np.abs(o)):.2f} | "
                       f"{np.abs(o).max():.2f} |")
    gate = None
    if any(OUT.glob("*-f.npz")):
        f = load(glob="*-f.npz")
        fc = combined(f, FAR_FRAMES[1:])
        fi, fp = f["frame"] == 0, f["frame"] > 0
        fe = {"I": estimates({"mse": f["mse"][fi]}, chosen["I (frame 0)"]),
              "P": estimates({"mse": f["mse"][fp]}, chosen["P (4, 12, 20), one frame"]),
              "check": estimates(fc, chosen["P 4+12+20, one check"])}
        fq = {"I": f["qp"][fi], "P": f["qp"][fp], "check": fc["qp"]}
        fs = {"I": f["split"][fi], "P": f["split"][fp], "check": fc["split"]}
        fcl = {"I": f["clip"][fi], "P": f["clip"][fp], "check": fc["clip"]}
        out += ["", "## Far P-frames: frames 60, 90, 120 after the I-frame (first 121 frames of "
                f"{len(set(f['clip']))} clips: {', '.join(sorted(set(f['clip'])))})", "",
                "Same rules as above (chosen on the main set; nothing tuned here).", "",
                "| split | frames | n | MAE (QP) | within +-3 | mean error | per-source offset: SD / max abs |",
                "|---|---|---|---|---|---|---|"]
        for split in ("train", "val"):
            for key, name in (("I", "I (frame 0)"), ("P", "P (60, 90, 120), one frame"),
                              ("check", "P 60+90+120, one check")):
                t = fs[key] == split
                if not t.any():
                    continue
                o = np.array([(fe[key][t & (fcl[key] == x)] - fq[key][t & (fcl[key] == x)]).mean()
                              for x in sorted(set(fcl[key][t]))])
                out.append(f"| {split} | {name} | {_stats(fe[key][t], fq[key][t])} | "
                           f"{o.std():.2f} / {np.abs(o).max():.2f} |")
        out += ["", "| QP | far P, one frame: MAE / within +-3 | far check: MAE / within +-3 |", "|---|---|---|"]
        for q in QPS:
            cells = []
            for key in ("P", "check"):
                t = fq[key] == q
                err = fe[key][t] - q
                cells.append(f"{np.abs(err).mean():.2f} / {100 * (np.abs(err) <= 3).mean():.0f} %")
            out.append(f"| {q} | {' | '.join(cells)} |")
        out += ["", "| clip | split | far check offset | far check MAE |", "|---|---|---|---|"]
        for x in sorted(set(fc["clip"])):
            t = fc["clip"] == x
            err = fe["check"][t] - fc["qp"][t]
            out.append(f"| {x} | {fc['split'][t][0]} | {err.mean():+.2f} | {np.abs(err).mean():.2f} |")
        # the gate: grouped CV over the train far checks (the hard case); per fold, the gate with the
        # most accepted checks within +-3 among those that accept at least MIN_ACCEPT of the others
        pr = np.array([prominence(m) for m in fc["mse"]])
        ok = np.abs(fe["check"] - fc["qp"]) <= 3
        tr = fc["split"] == "train"
        fo = np.full(len(tr), -1)
        fo[tr] = folds(fc["group"][tr])

        def best(m):
            good = [g for g in GATES if (pr[m] >= g).mean() >= MIN_ACCEPT]
            return max(good, key=lambda g: ok[m & (pr >= g)].mean())

        picks = [best(tr & (fo != i)) for i in range(5)]
        held = np.zeros(len(tr), bool)
        for i, g in enumerate(picks):
            held |= (fo == i) & (pr >= g)
        gate = best(tr)
        out += ["", f"Gate on the check's prominence, chosen by grouped 5-fold CV over the train far checks (most "
                f"within +-3 among accepted, accepting >= {100 * MIN_ACCEPT:.0f} %): {gate} (fold picks: "
                f"{', '.join(map(str, picks))}); out of fold it accepts {100 * held[tr].mean():.0f} % of the "
                f"train far checks, with MAE {np.abs(fe['check'] - fc['qp'])[held].mean():.2f} and "
                f"{100 * ok[held].mean():.0f} % within +-3.", "",
                "| checks | gate | accepted | MAE of accepted | within +-3 of accepted | sources with an accepted check |",
                "|---|---|---|---|---|---|"]
        for name, cc, ee in (("main (frames 4-20)", c, est["P 4+12+20, one check"]), ("far (frames 60-120)", fc, fe["check"])):
            pp = np.array([prominence(m) for m in cc["mse"]])
            for split in ("train", "val"):
                for g in GATES:
                    t = (cc["split"] == split) & np.char.startswith(cc["codec"].astype(str), "h265")
                    a = t & (pp >= g)
                    if not t.any():
                        continue
                    err = np.abs(ee - cc["qp"])
                    mae = f"{err[a].mean():.2f}" if a.any() else "-"
                    within = f"{100 * (err[a] <= 3).mean():.0f} %" if a.any() else "-"
                    out.append(f"| {name}, {split} | {g}{' **(chosen)**' if g == gate else ''} | "
                               f"{100 * a.sum() / t.sum():.0f} % | {mae} | {within} | "
                               f"{len(set(cc['clip'][a]))} of {len(set(cc['clip'][t]))} |")
    # knee prominence: how sure a check is; the gate chosen above (else the 10th percentile of the
    # train H.265 checks)
    prom_c = np.array([prominence(m) for m in c["mse"]])
    thr = gate if gate is not None else float(np.percentile(prom_c[(c["split"] == "train") & ch5], 10))
    how = "the gate chosen above" if gate is not None else "the 10th percentile of the train H.265 checks"
    rule = chosen["P 4+12+20, one check"]
    out += ["", f"## Other inputs, read with the x265 check (rule `{rule}` on the 3-P-frame check unless said)", "",
            f"Prominence of the knee (`prominence`: the largest 3-rung rise over the median, in MADs); the gate "
            f"{thr:.1f} is {how}.", "",
            "| input | n | mean reading | MAE vs its QP | within +-3 | median prominence | share above the gate | "
            "MAE of those above |", "|---|---|---|---|---|---|---|---|"]

    def line(name, e, q, pr):
        ok = pr >= thr
        mae = f"{np.abs(e - q).mean():.2f}" if np.isfinite(q).all() else "-"
        within = f"{100 * (np.abs(e - q) <= 3).mean():.0f} %" if np.isfinite(q).all() else "-"
        above = f"{np.abs(e[ok] - q[ok]).mean():.2f}" if ok.any() and np.isfinite(q).all() else "-"
        return (f"| {name} | {len(e)} | {e.mean():.1f} | {mae} | {within} | {np.median(pr):.1f} | "
                f"{100 * ok.mean():.0f} % | {above} |")

    for split in ("train", "val"):
        t = ch5 & (c["split"] == split)
        out.append(line(f"H.265 x1/4, {split}", ec[t], c["qp"][t].astype(float), prom_c[t]))
    for q in H264_QPS:
        t = (c["codec"] == "h264") & (c["qp"] == q)
        out.append(line(f"H.264 x1/4 QP {q}", estimates(c, rule)[t], c["qp"][t].astype(float), prom_c[t]))
        t1 = (d["codec"] == "h264") & (d["qp"] == q) & (d["frame"] == 0)
        out.append(line(f"H.264 x1/4 QP {q}, I-frame (rule `{chosen['I (frame 0)']}`)",
                        estimates(d, chosen["I (frame 0)"])[t1], d["qp"][t1].astype(float),
                        np.array([prominence(m) for m in d["mse"][t1]])))
    if any(OUT.glob("*-x.npz")):
        x = load(extras=True)
        xe, xp = estimates(x, rule), np.array([prominence(m) for m in x["mse"]])
        out.append(line("original (frame 4, at its own size)", xe[x["codec"] == "native"],
                        np.full((x["codec"] == "native").sum(), np.nan), xp[x["codec"] == "native"]))
        for q in UPSCALE_QPS:
            t = (x["codec"] == "h265") & (x["qp"] == q)
            out.append(line(f"bicubic x4 of the H.265 QP {q} decode (frame 4)", xe[t], x["qp"][t].astype(float), xp[t]))
    for p in sorted({str(q.name).split("-p")[1][:-4] for q in OUT.glob("*-p*.npz")}):
        y = combined(load(glob=f"*-p{p}.npz"))
        ye, yp = estimates(y, rule), np.array([prominence(m) for m in y["mse"]])
        for q in PRESET_QPS:
            t = y["qp"] == q
            out.append(line(f"H.265 x1/4 QP {q}, sender preset {p} (clips {', '.join(sorted(set(y['clip'])))})",
                            ye[t], y["qp"][t].astype(float), yp[t]))
    if any(OUT.glob("*-c.npz")):
        y = load(glob="*-c.npz")
        for tag in ("crop64", "crop8"):
            yy = {k: v[y["view"] == tag] for k, v in y.items()}
            cy = combined(yy)
            ye, yp = estimates(cy, rule), np.array([prominence(m) for m in cy["mse"]])
            ri = chosen["I (frame 0)"]
            for q in X1_QPS:
                t = cy["qp"] == q
                clips = ", ".join(sorted(set(cy["clip"][t])))
                out.append(line(f"H.265 x1 QP {q}, {CROP[0]}x{CROP[1]} {tag} window, 3 P-frames ({clips})",
                                ye[t], cy["qp"][t].astype(float), yp[t]))
                t1 = (yy["qp"] == q) & (yy["frame"] == 0)
                out.append(line(f"H.265 x1 QP {q}, {tag} window, I-frame (rule `{ri}`)",
                                estimates({"mse": yy["mse"][t1]}, ri), yy["qp"][t1].astype(float),
                                np.array([prominence(m) for m in yy["mse"][t1]])))
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache-dir", type=Path, default=HERE.parent, help="a training/ folder with cache{,-val}/")
    ap.add_argument("--clips", default="", help="comma-separated clip ids (default: all)")
    ap.add_argument("--extras", action="store_true", help="originals and bicubic upscales (large frames)")
    ap.add_argument("--sender-preset", default="", help="decodes of this x265 preset instead (QP 22/32/42)")
    ap.add_argument("--far", action="store_true", help="P-frames 60-120 frames after the I-frame "
                    "(the first FAR_SEG frames; val clips from the shared data, their cache is short)")
    ap.add_argument("--keyframes", action="store_true", help=f"find x265's keyframe at frame {KEYINT} by "
                    "the frame-difference spike (train clips with >= KEY_SEG frames); prints a table")
    ap.add_argument("--cost", action="store_true", help="CPU per re-encode on the first --clips clip")
    ap.add_argument("--coarse", action="store_true", help="simulate coarse ladders on the cached checks")
    ap.add_argument("--x1-crop", action="store_true", help="full-size decodes read on a 448x256 crop")
    ap.add_argument("--report", action="store_true", help="print the tables from the cached curves")
    a = ap.parse_args()
    if a.report:
        print(report())
        return
    want = set(filter(None, a.clips.split(",")))
    if a.cost:
        name = (sorted(want) or ["D01"])[0]
        print(cost(next(p for p in (a.cache_dir / "cache" / name, a.cache_dir / "cache-val" / name) if p.exists())))
        return
    if a.coarse:
        for nm, g, fr in (("near the I-frame", "*[0-9].npz", (4, 12, 20)), ("far", "*-f.npz", FAR_FRAMES[1:])):
            c = combined(load(glob=g), fr)
            t = np.char.startswith(c["codec"].astype(str), "h265")
            full = np.abs(estimates(c, "jump3")[t] - c["qp"][t])
            print(f"{nm}: full ladder jump3 MAE {full.mean():.2f}, {100 * (full <= 3).mean():.0f} % within +-3")
            for step in (2, 3, 4):
                res = [coarse_knee(m, step) for m in c["mse"][t]]
                e = np.abs(np.array([q for q, _ in res]) - c["qp"][t])
                print(f"{nm}: every {step} QP + refine ({np.mean([k for _, k in res]):.0f} rungs) MAE {e.mean():.2f}, "
                      f"{100 * (e <= 3).mean():.0f} % within +-3")
        return
    if a.keyframes:
        srcs = [(p.name, p) for p in sorted((a.cache_dir / "cache").iterdir()) if not want or p.name in want]
        print(keyframe_hunt(srcs))
        return
    if a.far:
        from ntcommon import clips as ntclips

        val = {ntclips.clip_id(c.path): c for c in ntclips.val_clips()}
        for split, sub in (("train", "cache"), ("val", "cache-val")):
            for src in sorted((a.cache_dir / sub).iterdir()):
                if want and src.name not in want:
                    continue
                t = time.time()
                if split == "val":
                    c = val[src.name]
                    raw, w, h = degrade.ground_truth(c, FAR_SEG), c.width, c.height
                else:
                    if cached_frames(src) < FAR_SEG:
                        continue
                    raw, w, h = cached_raw(src, range(FAR_SEG))
                p = collect_far(src.name, split, raw, w, h)
                print(f"{split} {src.name}: {p.name} {time.time() - t:.1f}s", flush=True)
        return
    for split, sub in (("train", "cache"), ("val", "cache-val")):
        for src in sorted((a.cache_dir / sub).iterdir()):
            if want and src.name not in want or not (src / "hr_y.npy").exists():
                continue
            t = time.time()
            if a.x1_crop:
                p = collect_x1(src.name, split, src)
            else:
                p = collect(src.name, split, src, a.extras, a.sender_preset)
            print(f"{split} {src.name}: {p.name} {time.time() - t:.1f}s", flush=True)


if __name__ == "__main__":
    main()
