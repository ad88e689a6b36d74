"""Quality: degrade each clip as Track 2 does, upscale it with each method, score it.

For every clip and QP: ground truth (ntcommon/degrade.py ground_truth: raw I420 of the cropped
clip), degradation (degrade(): Lanczos x4 down + x265 constant QP, low delay; the .hevc is kept
for ntiresr's pipeline), then per method PSNR-Y/U/V, SSIM-Y and temporal error (metrics.py), VMAF
(vmaf.py) and LPIPS (lpips_metric.py, on every `lpips_stride`-th frame: it costs ~1 s per
1080p frame on 2 cores).
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from ntcommon import clips as clips_mod
from ntcommon import degrade
from ntcommon.paths import DATA

from . import metrics
from .frames import Video, i420_to_rgb


@dataclass
class Options:
    frames: int = 60
    vmaf: bool = True
    lpips: bool = True
    lpips_stride: int = 10
    threads: int = 2
    keep_frame: tuple | None = None  # (clip id, qp, frame index) whose frames crops.py shows
    kept: dict = field(default_factory=dict)  # filled: label -> (y, u, v) of that frame


def clip_list(paths: list[Path] | None, data: Path = DATA):
    """ntcommon/clips.py's clips (with their crops) for the given files, default the val set of
    the data folder `data`."""
    if not paths:
        return clips_mod.val_clips(data)
    return [degrade.make_clip(p, clips_mod.CROPS.get(clips_mod.clip_id(p))) for p in paths]


def run(clips, qps, methods, tmp: Path, opt: Options, log=print) -> list[dict]:
    lp = None
    if opt.lpips:
        from .lpips_metric import Lpips

        lp = Lpips(threads=opt.threads)
    rows = []
    for clip in clips:
        cid = clips_mod.clip_id(clip.path)
        w, h = clip.width, clip.height
        gt = Video.from_raw(degrade.ground_truth(clip, opt.frames), w, h)
        gt_path = tmp / f"{cid}.gt.yuv"
        gt_path.write_bytes(gt.raw())
        lpips_idx = list(range(0, gt.n, opt.lpips_stride))
        gt_rgb = {i: i420_to_rgb(gt.y[i], gt.u[i], gt.v[i]) for i in lpips_idx} if lp else {}
        for qp in qps:
            hevc = tmp / f"{cid}.qp{qp}.hevc"
            lr = Video.from_raw(degrade.degrade(gt.raw(), w, h, qp, hevc_out=hevc), w // 4, h // 4)
            keep = opt.keep_frame and opt.keep_frame[:2] == (cid, qp)
            if keep:
                opt.keep_frame = (cid, qp, min(opt.keep_frame[2], gt.n - 1))
                opt.kept["original"] = _frame(gt, opt.keep_frame[2])
            for m in methods:
                log(f"quality: {cid} {w}x{h} QP {qp}: {m.name}")
                t = time.perf_counter()
                out = m.upscale(lr, hevc)
                secs = time.perf_counter() - t
                if (out.n, out.width, out.height) != (gt.n, w, h):
                    raise RuntimeError(f"{m.name} gave {out.n} frames of {out.width}x{out.height},"
                                       f" expected {gt.n} of {w}x{h}")
                row = {"clip": cid, "file": clip.path.name, "size": f"{w}x{h}",
                       "orientation": "portrait" if h > w else "landscape", "qp": qp,
                       "frames": gt.n, "hevc_kbit_per_frame": hevc.stat().st_size * 8 / 1000 / gt.n,
                       "method": m.name, "seconds": secs, **metrics.planes(gt, out)}
                if opt.vmaf:
                    from .vmaf import vmaf_scores

                    dist = tmp / "dist.yuv"
                    dist.write_bytes(out.raw())
                    row.update(vmaf_scores(gt_path, dist, w, h, opt.threads))
                    dist.unlink()
                if lp:
                    row["lpips"] = sum(lp.distance(gt_rgb[i], i420_to_rgb(out.y[i], out.u[i], out.v[i]),
                                                   ref_key=i) for i in lpips_idx) / len(lpips_idx)
                    row["lpips_frames"] = len(lpips_idx)
                if keep:
                    opt.kept[m.name] = _frame(out, opt.keep_frame[2])
                rows.append(row)
            hevc.unlink()
        gt_path.unlink()
        if lp:
            lp.forget()
    return rows


def _frame(v: Video, i: int):
    return v.y[i].copy(), v.u[i].copy(), v.v[i].copy()
