"""The per-factor benchmark: ntiresr at every output size from 1x to 4x its input, beside bicubic
and Lanczos at the same size, per QP; and its frame rate for 1080p output at each factor.

    scripts/bench-python -m bench.factors [--clips A.mp4 ...] [--factors 1,1.5,2,3,4]
        [--qps 22,27,32,37] [--frames 20] [--repeat 3] [--no-speed] [--out bench-out/factors]
        [--max-network-pixels N]

Each clip's output size is its own (val/ cropped as `ntcommon.clips` says: 1080p, or less where
the clip is smaller); the input is that size divided by the factor (even), Lanczos down, x265 at
constant QP, low delay (the Track 2 degradation at that scale). ntiresr runs through the plugin
(`filesrc ! h265parse ! avdec_h265 ! ntiresr ! video/x-raw,width=W,height=H`), as a user runs it.
Writes results.json and results.md to --out.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.metrics import psnr
from ntcommon import clips as clips_mod
from ntcommon import degrade, gst, paths

HERE = Path(__file__).resolve().parent


def input_size(width: int, height: int, factor: float) -> tuple[int, int]:
    """The input (even) from which `factor` gives `width x height`, never below a quarter of it."""
    def even(v: float, side: int) -> int:
        quarter = -(-side // 4)
        return max(int(round(v / 2)) * 2, quarter + quarter % 2)
    return even(width / factor, width), even(height / factor, height)


def unpad_i420(raw: bytes, w: int, h: int) -> np.ndarray:
    """Luma planes of GStreamer's I420 frames (rows padded to 4 bytes) as [n, h, w]."""
    sy, sc, ch = -(-w // 4) * 4, -(-((w + 1) // 2) // 4) * 4, (h + 1) // 2
    size = sy * h + 2 * sc * ch
    a = np.frombuffer(raw, np.uint8)
    n = len(a) // size
    return a[: n * size].reshape(n, size)[:, : sy * h].reshape(n, h, sy)[:, :, :w]


def ffmpeg_scale(raw: bytes, size: tuple[int, int], out: tuple[int, int], flags: str) -> np.ndarray:
    """ffmpeg's `scale` of packed I420 frames; the output's luma [n, h, w]."""
    res = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{size[0]}x{size[1]}",
         "-i", "-", "-vf", f"scale={out[0]}:{out[1]}:flags={flags}", "-f", "rawvideo", "-pix_fmt",
         "yuv420p", "-"],
        input=raw, check=True, capture_output=True).stdout
    return degrade.split_i420(res, *out)[0]


def ntiresr(hevc: Path, size: tuple[int, int], out: tuple[int, int], env, sink: Path | None,
            props: dict) -> float:
    """Runs the plugin on `hevc` to `out`; returns the wall time in seconds."""
    cmd = gst.ntiresr_pipeline(hevc, *size, sink, out_size=out, props=props)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    return time.perf_counter() - start


def mean_psnr(ref: np.ndarray, out: np.ndarray) -> float:
    """PSNR-Y over the frames both have (`bench.metrics.psnr`: the mean of per-frame values)."""
    n = min(len(ref), len(out))
    return psnr(ref[:n], out[:n])


def quality(clips, factors, qps, frames, env, work: Path, props: dict) -> list[dict]:
    rows = []
    for clip in clips:
        cid = clips_mod.clip_id(clip.path)
        w, h = clip.width, clip.height
        hr = degrade.ground_truth(clip, frames)
        ref = degrade.split_i420(hr, w, h)[0]
        for factor in factors:
            size = input_size(w, h, factor)
            for qp in qps:
                hevc = work / f"{cid}_{factor}_{qp}.hevc"
                lr = degrade.degrade(hr, w, h, qp, hevc_out=hevc, size=size)
                out_file = work / "out.yuv"
                ntiresr(hevc, size, (w, h), env, out_file, props)
                row = {"clip": cid, "factor": factor, "qp": qp, "input": list(size), "output": [w, h],
                       "bicubic": mean_psnr(ref, ffmpeg_scale(lr, size, (w, h), "bicubic")),
                       "lanczos": mean_psnr(ref, ffmpeg_scale(lr, size, (w, h), "lanczos")),
                       "ntiresr": mean_psnr(ref, unpad_i420(out_file.read_bytes(), w, h))}
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def speed(factors, repeat: int, env, work: Path, props: dict) -> list[dict]:
    """fps of 1920x1080 output from a 120-frame talking-head-free test clip at each factor."""
    rows = []
    for factor in factors:
        size = input_size(1920, 1080, factor)
        clip = work / f"speed_{factor}.hevc"
        subprocess.run(
            ["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=120", "pattern=ball", "!",
             f"video/x-raw,format=I420,width={size[0]},height={size[1]},framerate=25/1", "!",
             "x265enc", "speed-preset=ultrafast", "tune=zerolatency", "!", "h265parse", "!",
             "video/x-h265,stream-format=byte-stream", "!", "filesink", f"location={clip}"],
            env=env, check=True)
        times = [ntiresr(clip, size, (1920, 1080), env, None, props) for _ in range(repeat)]
        fps = 120 / statistics.median(times)
        rows.append({"factor": factor, "input": list(size), "fps": fps})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def report(quality_rows: list[dict], speed_rows: list[dict]) -> str:
    """The markdown section: PSNR-Y gain over bicubic per factor and QP (mean over clips), the
    worst clip, Lanczos beside it; then the fps for 1080p output."""
    lines = ["| factor | QP | bicubic PSNR-Y | Lanczos - bicubic | ntiresr - bicubic | worst clip |",
             "|---:|---:|---:|---:|---:|---:|"]
    keys = sorted({(r["factor"], r["qp"]) for r in quality_rows})
    for factor, qp in keys:
        rs = [r for r in quality_rows if r["factor"] == factor and r["qp"] == qp]
        bic = np.mean([r["bicubic"] for r in rs])
        lan = np.mean([r["lanczos"] - r["bicubic"] for r in rs])
        gains = [(r["ntiresr"] - r["bicubic"], r["clip"]) for r in rs]
        worst = min(gains)
        lines.append(f"| x{factor:g} | {qp} | {bic:.2f} | {lan:+.3f} | **{np.mean([g for g, _ in gains]):+.3f}** "
                     f"| {worst[0]:+.3f} ({worst[1]}) |")
    if speed_rows:
        lines += ["", "| factor | input for 1080p | fps (median) |", "|---:|---:|---:|"]
        lines += [f"| x{r['factor']:g} | {r['input'][0]}x{r['input'][1]} | {r['fps']:.1f} |" for r in speed_rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", type=Path, help="default: the val clips")
    ap.add_argument("--factors", default="1,1.5,2,3,4")
    ap.add_argument("--qps", default="22,27,32,37")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--max-network-pixels", type=int, help="the element's property (default: its own)")
    ap.add_argument("--plugin-path", type=Path, default=HERE.parent / "target" / "release")
    ap.add_argument("--out", type=Path, default=Path("bench-out/factors"))
    a = ap.parse_args()
    factors = [float(f) for f in a.factors.split(",")]
    qps = [int(q) for q in a.qps.split(",")]
    val = clips_mod.val_clips(paths.DATA)
    clips = val if not a.clips else [c for c in val if c.path in a.clips] or [
        degrade.make_clip(p, clips_mod.CROPS.get(clips_mod.clip_id(p))) for p in a.clips]
    env = gst.plugin_env(a.plugin_path)
    props = {} if a.max_network_pixels is None else {"max-network-pixels": a.max_network_pixels}
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        q = quality(clips, factors, qps, a.frames, env, Path(tmp), props)
        s = [] if a.no_speed else speed(factors, a.repeat, env, Path(tmp), props)
    (a.out / "results.json").write_text(json.dumps(
        {"quality": q, "speed": s, "command": " ".join(os.sys.argv)}, indent=1))
    (a.out / "results.md").write_text(report(q, s))
    print(report(q, s))


if __name__ == "__main__":
    main()
