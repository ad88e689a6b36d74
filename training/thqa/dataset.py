"""thqa dataset: degrade talking-head clips, give every frame a full-reference target, keep luma patches.

Target (the ground truth thqa is trained against; NOT a human opinion score):
    frame target = clamp(VMAF_v0.6.1 / 20, 0, 5), VMAF computed per frame between the distorted
    frame (bicubic-upscaled with ffmpeg `scale=W:H:flags=bicubic` to the original's size when it
    is smaller) and the original. A low-resolution frame and its bicubic upscale share a target.

Patches are taken as the element takes them (display.py), at display size with the display =
the original's size: a decode smaller than the original is judged through its bicubic upscale.

Degradations per clip (44 versions of its first F frames, default 12):
    pristine; Gaussian blur (5 sigmas); Gaussian noise (4 levels);
    H.265 constant QP, low delay (ntcommon/degrade.py settings): x1 and x1/2 (Lanczos down) at
    QP 22/32/42/51; x1/4 (the challenge degradation) at QP 17..51 (8), each also upscaled by
    ntiresr (GStreamer element, plugin copied to --plugin-dir), and at QP 22/32/42/51 by a peer
    (FSRCNN-small / ESPCN alternating, via bench/methods.py); x1/4 H.264 (libx264 QP 24/34/44,
    no B-frames) and VP9 (libvpx-vp9 realtime, CRF 30/45/60).
Portrait: A18/A19/C05 are portrait; some landscape clips also get a transposed ("T") variant.

Output, one file per clip variant (resumable: finished files are skipped):
    cache/train/<id>.npz: patches uint8 [V, F, 2*N, P, P] (first N at the contract positions,
    then N at random display positions) for every frame, targets float32 [V, F], scale float32
    [V], and the version names/families/sizes. With keep_dir (evaluate.py) the degraded raw
    I420 of every version is written instead of patches, at its native size.

Usage: nice -n 5 .venv/bin/python -m training.thqa.dataset [--frames 12] [--minutes 35]
                    [--data DIR] [--peers DIR]
"""

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ntcommon import clips as clips_mod
from ntcommon import degrade, gst, paths

from . import display

HERE = Path(__file__).resolve().parent

G = 4  # patches per side: N = G*G
P = 48  # patch size (even)
N = G * G
QPS = (17, 22, 27, 32, 37, 42, 47, 51)  # the challenge's x4 family
SIDE_QPS = (22, 32, 42, 51)  # x1, x2 and the peers
OTHER_CODECS = {"h264": (24, 34, 44), "vp9": (30, 45, 60)}  # x4 down; QP / CRF
BLUR_SIGMAS = (0.6, 1.0, 1.6, 2.5, 4.0)
NOISE_SIGMAS = (3.0, 6.0, 12.0, 25.0)  # 8-bit units (luma; chroma gets half)
PEERS = ("fsrcnn-small", "espcn")
TRANSPOSED = ("A04", "A14", "B01", "B16", "C03")  # landscape train clips that also get a portrait variant
CACHE = HERE / "cache"
DEFAULT_PLUGIN_DIR = Path("/tmp/thqa-plugin")


# ---------------------------------------------------------------- the contract's model inputs
def model_inputs(y: np.ndarray, disp: int, g: int = G, p: int = P) -> dict[str, np.ndarray]:
    """uint8 luma plane -> the ONNX inputs {patches [N,1,P,P] f32 (/255), scale [N,1] f32} for a
    display of `disp` lines (display.py), as the element computes them."""
    h, w = y.shape
    patches = display.patches(y, disp, g, p).astype(np.float32)[:, None] / 255.0
    scale = np.full((g * g, 1), display.scale(w, h, disp), np.float32)
    return {"patches": patches, "scale": scale}


# ---------------------------------------------------------------- video helpers (raw I420)
def ffmpeg(args: list[str], data: bytes | None = None) -> bytes:
    p = subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-filter_threads", "1", *args],
                       input=data, capture_output=True)
    if p.returncode:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {p.stderr.decode()[-1500:]}")
    return p.stdout


def raw_in(w: int, h: int) -> list[str]:
    return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", "25", "-i", "-"]


RAW_OUT = ["-pix_fmt", "yuv420p", "-f", "rawvideo", "-"]


def scale(raw: bytes, w: int, h: int, W: int, H: int, flags: str = "bicubic") -> bytes:
    return ffmpeg([*raw_in(w, h), "-vf", f"scale={W}:{H}:flags={flags}", *RAW_OUT], raw)


def blur(raw: bytes, w: int, h: int, sigma: float) -> bytes:
    return ffmpeg([*raw_in(w, h), "-vf", f"gblur=sigma={sigma}", *RAW_OUT], raw)


def noise(raw: bytes, w: int, h: int, sigma: float, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    a = np.frombuffer(raw, np.uint8).reshape(-1, w * h * 3 // 2).astype(np.float32)
    s = np.full(a.shape[1], sigma / 2, np.float32)
    s[: w * h] = sigma
    a += rng.standard_normal(a.shape, dtype=np.float32) * s
    return np.clip(np.rint(a), 0, 255).astype(np.uint8).tobytes()


def transpose(raw: bytes, w: int, h: int) -> bytes:
    y, u, v = degrade.split_i420(raw, w, h)
    t = lambda a: np.ascontiguousarray(a.transpose(0, 2, 1))
    ty, tu, tv = t(y), t(u), t(v)
    return b"".join(ty[i].tobytes() + tu[i].tobytes() + tv[i].tobytes() for i in range(len(ty)))


def hevc(raw: bytes, w: int, h: int, factor: int, qp: int, out: Path) -> tuple[bytes, int, int]:
    """x`factor` Lanczos down + constant-QP low-delay x265 (degrade.X265_PARAMS); decoded raw."""
    if factor == 4:  # the challenge degradation itself
        return degrade.degrade(raw, w, h, qp, hevc_out=out), w // 4, h // 4
    lw, lh = w // factor, h // factor
    vf = ["-vf", f"scale={lw}:{lh}:flags=lanczos"] if factor != 1 else []
    enc = subprocess.run(
        ["ffmpeg", "-v", "error", *raw_in(w, h), *vf, "-c:v", "libx265", "-tune", "zerolatency",
         "-x265-params", degrade.X265_PARAMS.format(qp=qp) + ":log-level=error:pools=1:frame-threads=1",
         "-f", "hevc", "-"], input=raw, check=True, capture_output=True).stdout
    out.write_bytes(enc)
    dec = ffmpeg(["-f", "hevc", "-i", str(out), *RAW_OUT])
    return dec, lw, lh


def ntiresr(hevc_path: Path, lw: int, lh: int, plugin_dir: Path) -> bytes:
    out = hevc_path.with_suffix(".ntiresr.yuv")
    env = gst.plugin_env(plugin_dir, keep=False)
    cmd = gst.ntiresr_pipeline(hevc_path, lw, lh, out, props={"n-threads": 1})
    p = subprocess.run(cmd, env=env, capture_output=True)
    if p.returncode:
        raise RuntimeError(f"ntiresr failed: {(p.stdout + p.stderr).decode()[-1500:]}")
    data = out.read_bytes()
    out.unlink()
    return data


_PEERS = {}


def peer(name: str, raw: bytes, lw: int, lh: int, peers: Path = paths.PEERS) -> bytes:
    from bench import methods
    from bench.frames import Video

    if name not in _PEERS:
        _PEERS[name] = methods.Peer(name, peers)
    return _PEERS[name].upscale(Video.from_raw(raw, lw, lh), Path("/dev/null")).raw()


def vmaf_ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def vmaf_frames(ref_path: Path, dist: bytes, w: int, h: int, tmp: Path) -> np.ndarray:
    """Per-frame VMAF (vmaf_v0.6.1) of raw I420 `dist` (w x h, from stdin) against `ref_path`."""
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", "25", "-i"]
    log = tmp / "vmaf.json"
    p = subprocess.run(
        [vmaf_ffmpeg(), "-v", "error", "-threads", "1", *raw, "-", *raw, str(ref_path), "-lavfi",
         f"[0:v][1:v]libvmaf=model=version=vmaf_v0.6.1:n_threads=1:log_fmt=json:log_path={log}",
         "-f", "null", "-"], input=dist, capture_output=True)
    if p.returncode:
        raise RuntimeError(f"libvmaf failed: {p.stderr.decode()[-1500:]}")
    frames = json.loads(log.read_text())["frames"]
    return np.array([f["metrics"]["vmaf"] for f in frames], np.float64)


# ---------------------------------------------------------------- one clip variant
def other_codec(raw: bytes, w: int, h: int, codec: str, q: int, out: Path) -> tuple[bytes, int, int]:
    """x4 Lanczos down + H.264 (libx264, constant QP, low delay) or VP9 (libvpx-vp9, realtime,
    constant quality); decoded raw at w/4 x h/4."""
    lw, lh = w // 4, h // 4
    args = {"h264": ["-c:v", "libx264", "-tune", "zerolatency", "-preset", "veryfast", "-qp", str(q),
                     "-bf", "0", "-threads", "1", "-f", "h264"],
            "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0",
                    "-crf", str(q), "-lag-in-frames", "0", "-threads", "1", "-f", "ivf"]}[codec]
    enc = subprocess.run(["ffmpeg", "-v", "error", *raw_in(w, h), "-vf", f"scale={lw}:{lh}:flags=lanczos",
                          *args, "-"], input=raw, check=True, capture_output=True).stdout
    out.write_bytes(enc)
    return ffmpeg(["-i", str(out), *RAW_OUT]), lw, lh


def versions(ref: bytes, w: int, h: int, tmp: Path, plugin_dir: Path, seed: int, ntiresr_ok: bool,
             peers: Path = paths.PEERS):
    """Yield (name, family, raw, vw, vh, full-size raw for VMAF or None=same as raw).

    A decode smaller than the original is kept at its own size: it is judged at display size
    (its bicubic upscale, `display.py`), which is also what its VMAF target compares."""
    yield "pristine", "pristine", ref, w, h, None
    for s in BLUR_SIGMAS:
        yield f"blur{s}", "blur", blur(ref, w, h, s), w, h, None
    for k, s in enumerate(NOISE_SIGMAS):
        yield f"noise{s:g}", "noise", noise(ref, w, h, s, seed + k), w, h, None
    for qp in SIDE_QPS:
        dec, _, _ = hevc(ref, w, h, 1, qp, tmp / "x1.hevc")
        yield f"x1-qp{qp}", "codec-x1", dec, w, h, None
    for qp in SIDE_QPS:
        dec, lw, lh = hevc(ref, w, h, 2, qp, tmp / "x2.hevc")
        yield f"x2-qp{qp}", "codec-x2", dec, lw, lh, scale(dec, lw, lh, w, h)
    for qp in QPS:
        hp = tmp / f"x4-qp{qp}.hevc"
        dec, lw, lh = hevc(ref, w, h, 4, qp, hp)
        yield f"x4-qp{qp}", "codec-x4", dec, lw, lh, scale(dec, lw, lh, w, h)
        if ntiresr_ok:
            yield f"x4-qp{qp}-ntiresr", "codec-x4-ntiresr", ntiresr(hp, lw, lh, plugin_dir), w, h, None
        if qp in SIDE_QPS:
            name = PEERS[SIDE_QPS.index(qp) % len(PEERS)]
            yield f"x4-qp{qp}-{name}", "codec-x4-peer", peer(name, dec, lw, lh, peers), w, h, None
    for codec, qs in OTHER_CODECS.items():
        for q in qs:
            dec, lw, lh = other_codec(ref, w, h, codec, q, tmp / f"x4.{codec}")
            yield f"x4-{codec}-q{q}", f"codec-x4-{codec}", dec, lw, lh, scale(dec, lw, lh, w, h)


def stored_targets(path: Path | None, frames: int) -> dict[str, np.ndarray] | None:
    """{version: per-frame targets} of an earlier build of the same clip variant (to re-take
    patches under a new rule without recomputing VMAF), or None."""
    if path is None or not path.exists():
        return None
    d = np.load(path)
    if d["targets"].shape[1] < frames:
        raise RuntimeError(f"{path}: {d['targets'].shape[1]} frames of targets, {frames} needed")
    return {str(n): t[:frames] for n, t in zip(d["names"], d["targets"])}


def build(clip, name: str, transposed: bool, frames: int, out: Path, plugin_dir: Path,
          keep_dir: Path | None = None, seed: int = 0, peers: Path = paths.PEERS,
          targets_from: Path | None = None) -> None:
    """Degrade one clip variant, score every frame with VMAF, write `out` (.npz). Patches are
    taken at display size with the display = the original's size (display.py). With
    `targets_from` (an earlier .npz of the same variant, same seed), its VMAF targets are reused:
    the degradations are deterministic, so only the patches are taken anew."""
    t0 = time.time()
    ref = degrade.ground_truth(clip, frames)
    w, h = clip.width, clip.height
    if transposed:
        ref, w, h = transpose(ref, w, h), h, w
    fsize = w * h * 3 // 2
    frames = len(ref) // fsize
    disp = min(w, h)
    rng = np.random.default_rng(seed + 12345)
    ntiresr_ok = gst.has_element("ntiresr", gst.plugin_env(plugin_dir, keep=False))
    if not ntiresr_ok:
        print(f"warning: no ntiresr element in {plugin_dir}; skipping ntiresr versions", flush=True)
    known = stored_targets(targets_from, frames)
    names, fams, sizes, targets, patches = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="thqa-") as td:
        tmp = Path(td)
        ref_path = tmp / "ref.yuv"
        ref_path.write_bytes(ref)
        for vname, fam, raw, vw, vh, full in versions(ref, w, h, tmp, plugin_dir, seed, ntiresr_ok,
                                                      peers):
            if known is not None:
                if vname not in known:
                    raise RuntimeError(f"{targets_from}: no targets for version {vname}")
                v = known[vname] * 20.0
            else:
                v = vmaf_frames(ref_path, full if full is not None else raw, w, h, tmp)
            if len(v) != frames:
                raise RuntimeError(f"{name}/{vname}: {len(v)} VMAF frames, expected {frames}")
            y, _, _ = degrade.split_i420(raw, vw, vh)
            if keep_dir is None:
                pt = [np.concatenate([display.patches(y[i], disp, G, P),
                                      display.random_patches(y[i], disp, N, P, rng)])
                      for i in range(frames)]
                patches.append(np.stack(pt))
            names.append(vname)
            fams.append(fam)
            sizes.append((vw, vh))
            targets.append(np.clip(v / 20.0, 0.0, 5.0))
            if keep_dir is not None:
                keep_dir.mkdir(parents=True, exist_ok=True)
                (keep_dir / f"{name}__{vname}.yuv").write_bytes(raw)
    sizes = np.array(sizes, np.int32)
    meta = {"clip": name, "width": w, "height": h, "frames": frames, "transposed": transposed,
            "orientation": "portrait" if h > w else "landscape", "source": clip.path.name,
            "crop": clip.crop, "display": disp, "seconds": round(time.time() - t0, 1)}
    if keep_dir is None:
        tmp_out = out.with_suffix(".tmp.npz")
        np.savez(tmp_out, patches=np.stack(patches), targets=np.stack(targets).astype(np.float32),
                 scale=np.full(len(names), disp / 1080.0, np.float32), sizes=sizes,
                 names=np.array(names), families=np.array(fams), meta=json.dumps(meta))
        tmp_out.rename(out)
    else:
        (keep_dir / f"{name}.json").write_text(json.dumps(
            {**meta, "versions": [{"name": n, "family": f, "width": int(s[0]), "height": int(s[1]),
                                   "targets": t.tolist()}
                                  for n, f, s, t in zip(names, fams, sizes, targets)]}, indent=1))
    print(f"{name}: {w}x{h} {frames} frames, {len(names)} versions, {time.time() - t0:.0f}s",
          flush=True)


def train_variants(data: Path = paths.DATA):
    """(clip, name, transposed) for every training clip at its own size (crop only, no prescale),
    plus transposed variants of TRANSPOSED; ordered so that an early stop still leaves a mix."""
    out = []
    for p in sorted((data / "train").glob("*.mp4")):
        cid = clips_mod.clip_id(p)
        clip = degrade.make_clip(p, clips_mod.CROPS.get(cid))
        out.append((clip, cid, False))
        if cid in TRANSPOSED:
            out.append((clip, cid + "T", True))
    # interleave: A-clips (large), C-clips (sharp, added 2026-12-02) and B-clips (small)
    groups = [[v for v in out if v[1][0] == k] for k in "ACB"]
    mixed = []
    while any(groups):
        for g in (0, 1, 2, 2):
            if groups[g]:
                mixed.append(groups[g].pop(0))
    return mixed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--minutes", type=float, default=35.0, help="start no new clip after this")
    ap.add_argument("--plugin-dir", type=Path, default=DEFAULT_PLUGIN_DIR,
                    help="folder holding a COPY of libgstntiresr.so")
    ap.add_argument("--out", type=Path, default=CACHE / "train")
    ap.add_argument("--only", nargs="*", help="clip names (e.g. B18 A04T)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--targets-from", type=Path,
                    help="folder of an earlier build (same --seed and --frames): reuse its VMAF "
                         "targets and take the patches anew (after a change of the patch rule)")
    ap.add_argument("--data", type=Path, default=paths.DATA,
                    help="the shared clips (default: $NTIRESR_DATA, else ../shared/data)")
    ap.add_argument("--peers", type=Path, default=paths.PEERS,
                    help="the peer models (default: $NTIRESR_PEERS, else ../shared/peers)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for k, (clip, name, tr) in enumerate(train_variants(a.data)):
        if a.only and name not in a.only:
            continue
        out = a.out / f"{name}.npz"
        if out.exists():
            continue
        if time.time() - t0 > a.minutes * 60:
            print(f"time limit reached; stopping before {name}", flush=True)
            break
        build(clip, name, tr, a.frames, out, a.plugin_dir, seed=a.seed + 100 * k, peers=a.peers,
              targets_from=a.targets_from / f"{name}.npz" if a.targets_from else None)
    print(f"done in {time.time() - t0:.0f}s; {len(list(a.out.glob('*.npz')))} clip files", flush=True)


if __name__ == "__main__":
    main()
