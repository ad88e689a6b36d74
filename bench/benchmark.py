"""Benchmark ntiresr against bicubic, Lanczos and the peers: quality, speed, a face-crop PNG.

Run it through scripts/benchmark (`python -m bench.benchmark` in the venv that
scripts/bench-python owns). Writes to --out:
  results.json  every figure, per clip/QP/method, with the machine, command and commit
  results.md    the README section (bench/update_readme.py puts it into README.md)
  crops.png     one face crop: original, bicubic, best peer (by PSNR-Y), ntiresr
A benchmark, not a test: the full run (3 clips x 4 QPs x 60 frames x 9 scored methods) takes hours
on 2 cores; bench/test_smoke.py runs it on 4 frames of a synthetic clip. ntiresr-tract (the element
on tract alone) and ntiresr-nv12 (the element fed NV12) are timed only, never scored: their
quality is ntiresr's (methods.py).
"""

import argparse
import sys
import tempfile
from pathlib import Path

from ntcommon import clips as clips_mod
from ntcommon.paths import DATA, PEERS, PLUGIN_PATH, ROOT

from . import methods as methods_mod
from . import quality, report, speed


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="scripts/benchmark", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", type=Path,
                    help="ground-truth clips (default: the val clips of --data)")
    ap.add_argument("--data", type=Path, default=DATA,
                    help="the shared clips (default: $NTIRESR_DATA, else ../shared/data)")
    ap.add_argument("--qps", default=",".join(map(str, clips_mod.EVAL_QPS)),
                    help="H.265 QPs, comma-separated")
    ap.add_argument("--frames", type=int, default=60, help="frames per clip (default 60)")
    ap.add_argument("--methods", default="all", help=f"comma-separated, of: {','.join(methods_mod.ALL)}"
                    " (ntiresr-tract and ntiresr-nv12 are timed only)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out", help="output folder")
    ap.add_argument("--repeat", type=int, default=3, help="speed runs per method; the median is reported")
    ap.add_argument("--speed-frames", type=int, default=10,
                    help="frames per speed run; raised until a run takes --speed-seconds")
    ap.add_argument("--speed-seconds", type=float, default=speed.MIN_SECONDS,
                    help="least time of a speed run")
    ap.add_argument("--no-quality", action="store_true", help="speed only")
    ap.add_argument("--no-speed", action="store_true", help="quality only")
    ap.add_argument("--no-vmaf", action="store_true")
    ap.add_argument("--no-lpips", action="store_true")
    ap.add_argument("--lpips-stride", type=int, default=10, help="LPIPS on every Nth frame (default 10)")
    ap.add_argument("--threads", type=int, default=2, help="threads for VMAF and LPIPS")
    ap.add_argument("--peers", type=Path, default=PEERS,
                    help="folder of the peer models (default: $NTIRESR_PEERS, else ../shared/peers)")
    ap.add_argument("--plugin-path", type=Path, default=PLUGIN_PATH,
                    help="where libgstntiresr.so is (GST_PLUGIN_PATH)")
    ap.add_argument("--model", type=Path, help="ONNX model for GFLOP and onnxruntime (default:"
                    " --ntiresr-model if given, else models/ntiresr.onnx)")
    ap.add_argument("--ntiresr-model", type=Path,
                    help="ONNX model for the element's model-location (default: its embedded model)")
    ap.add_argument("--ntiresr-standin", action="store_true",
                    help="replace the ntiresr element by videoscale catrom, a bicubic (plumbing test only)")
    ap.add_argument("--crop-qp", type=int, help="QP of the face-crop PNG (default: the upper median QP)")
    ap.add_argument("--crop-box", help="x,y,side of the face crop in the first clip (default: found)")
    return ap.parse_args(argv)


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    names = methods_mod.ALL if a.methods == "all" else a.methods.split(",")
    methods = methods_mod.make(names, a.ntiresr_standin, a.peers, a.plugin_path, a.ntiresr_model)
    qps = [int(q) for q in a.qps.split(",")]
    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    data = {"provenance": report.provenance(argv), "settings": {
        "frames": a.frames, "qps": qps, "methods": [m.name for m in methods],
        "lpips_stride": a.lpips_stride, "threads": a.threads, "speed_seconds": a.speed_seconds,
        "ntiresr_model": str(a.ntiresr_model) if a.ntiresr_model else "embedded",
        "speed_only": [m.name for m in methods if m.speed_only]}}
    scored = [m for m in methods if not m.speed_only]  # ntiresr-tract, -nv12: quality = ntiresr's
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        if not a.no_quality and not scored:
            log("quality: skipped, every method asked for is timed only")
        elif not a.no_quality:
            clips = quality.clip_list(a.clips, a.data)
            crop_qp = a.crop_qp or sorted(qps)[len(qps) // 2]
            opt = quality.Options(frames=a.frames, vmaf=not a.no_vmaf, lpips=not a.no_lpips,
                                  lpips_stride=a.lpips_stride, threads=a.threads,
                                  keep_frame=(clips_mod.clip_id(clips[0].path), crop_qp, a.frames // 2))
            data["quality"] = quality.run(clips, qps, scored, tmp, opt, log)
            data["summary"] = report.summary(data["quality"])
            box = tuple(int(v) for v in a.crop_box.split(",")) if a.crop_box else None
            data["crops"] = crops(a.out / "crops.png", opt, data["summary"], box)
        if not a.no_speed:
            model = a.model or a.ntiresr_model or speed.MODEL
            data["speed"] = speed.run(methods, tmp, a.speed_frames, a.repeat, model, log,
                                     a.speed_seconds)
    j, md = report.write(a.out, data)
    log(f"wrote {j} and {md}")
    print(report.markdown(data))
    return data


def crops(path: Path, opt, summary: dict, box=None) -> dict | None:
    """The PNG of original, bicubic, the best peer by mean PSNR-Y, and ntiresr (those present)."""
    from . import crops as crops_mod

    peers = [m for m in summary if m in methods_mod.PEER_FILES]
    best = max(peers, key=lambda m: summary[m]["mean"]["psnr_y"], default=None)
    order = ["original", "bicubic", best, "ntiresr", "ntiresr-standin"]
    panels = [(m, opt.kept[m]) for m in order if m in opt.kept]
    if len(panels) < 2:
        return None
    box = crops_mod.side_by_side(path, panels, box=box)
    cid, qp, frame = opt.keep_frame
    return {"file": path.name, "clip": cid, "qp": qp, "frame": frame,
            "panels": [p for p, _ in panels], "best_peer": best, **box}


if __name__ == "__main__":
    main()
