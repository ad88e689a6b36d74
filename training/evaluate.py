"""Evaluate the model through the plugin on the val clips: a thin wrapper over bench/.

    scripts/bench-python -m training.evaluate [--frames 60] [--qps 22,27,32,37] [--clips ...]
                                              [--no-vmaf] [--no-lpips] [--json out.json]

For every val clip and QP: PSNR-Y, SSIM-Y, PSNR-U/V, VMAF and LPIPS of ntiresr (run through
`... ! avdec_h265 ! ntiresr ! ...` from target/release, not through PyTorch), bicubic and Lanczos;
then the means per QP, the mean PSNR-Y gain of ntiresr over bicubic per QP, and the same per
orientation (landscape / portrait). Degradation, methods and metrics are bench/'s (see
bench/quality.py); scripts/benchmark is the full comparison with the peers and speed.
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench import methods as methods_mod
from bench import quality
from ntcommon import clips as clips_mod
from ntcommon.paths import DATA, PLUGIN_PATH

COLS = [("psnr_y", "PSNR-Y", 2), ("ssim_y", "SSIM-Y", 4), ("psnr_u", "PSNR-U", 2),
        ("psnr_v", "PSNR-V", 2), ("vmaf", "VMAF", 2), ("lpips", "LPIPS", 4)]


def table(rows: list[dict], label: str) -> str:
    cols = [c for c in COLS if any(r.get(c[0]) is not None for r in rows)]
    out = [f"{label:<28}" + "".join(f"{t:>9}" for _, t, _ in cols)]
    for r in rows:
        out.append(f"  {r['method']:<26}" + "".join(
            f"{r[k]:>9.{d}f}" if r.get(k) is not None else f"{'-':>9}" for k, _, d in cols))
    return "\n".join(out)


def mean_rows(rows: list[dict], names: list[str]) -> list[dict]:
    out = []
    for m in names:
        mine = [r for r in rows if r["method"] == m]
        out.append({"method": m, **{k: statistics.fmean(r[k] for r in mine)
                                    for k, _, _ in COLS if mine and mine[0].get(k) is not None}})
    return out


def gain(rows: list[dict], model: str, qp: int, orientation: str | None = None) -> float | None:
    """Mean over clips of PSNR-Y(model) - PSNR-Y(bicubic) at `qp`."""
    sel = [r for r in rows if r["qp"] == qp and orientation in (None, r["orientation"])]
    by = {(r["clip"], r["method"]): r["psnr_y"] for r in sel}
    d = [by[(c, model)] - by[(c, "bicubic")] for c, m in by if m == model and (c, "bicubic") in by]
    return statistics.fmean(d) if d else None


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", type=Path, help="default: the val clips of --data (ntcommon/clips.py)")
    ap.add_argument("--data", type=Path, default=DATA,
                    help="the shared clips (default: $NTIRESR_DATA, else ../shared/data)")
    ap.add_argument("--qps", default=",".join(map(str, clips_mod.EVAL_QPS)))
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--no-vmaf", action="store_true")
    ap.add_argument("--no-lpips", action="store_true")
    ap.add_argument("--lpips-stride", type=int, default=10, help="LPIPS on every Nth frame")
    ap.add_argument("--plugin-path", type=Path, default=PLUGIN_PATH)
    ap.add_argument("--ntiresr-model", type=Path,
                    help="ONNX for the element's model-location (default: its embedded model)")
    ap.add_argument("--ntiresr-standin", action="store_true",
                    help="videoscale instead of ntiresr (plumbing test)")
    ap.add_argument("--json", type=Path, help="also write every row here")
    a = ap.parse_args(argv)
    qps = [int(q) for q in a.qps.split(",")]
    methods = methods_mod.make(["ntiresr", "bicubic", "lanczos"], a.ntiresr_standin,
                               plugin_path=a.plugin_path, model=a.ntiresr_model)
    names = [m.name for m in methods]
    model = names[0]
    opt = quality.Options(frames=a.frames, vmaf=not a.no_vmaf, lpips=not a.no_lpips,
                          lpips_stride=a.lpips_stride)
    with tempfile.TemporaryDirectory(prefix="evaluate-") as tmp:
        rows = quality.run(quality.clip_list(a.clips, a.data), qps, methods, Path(tmp), opt,
                           log=lambda s: print(s, file=sys.stderr, flush=True))
    for clip in dict.fromkeys(r["clip"] for r in rows):
        for qp in qps:
            sel = [r for r in rows if r["clip"] == clip and r["qp"] == qp]
            print(table(sel, f"{clip} {sel[0]['size']} QP {qp}") + "\n")
    print("== means over clips ==")
    for qp in qps:
        print(table(mean_rows([r for r in rows if r["qp"] == qp], names), f"QP {qp}"))
        g = gain(rows, model, qp)
        orient = {o: gain(rows, model, qp, o) for o in ("landscape", "portrait")}
        print(f"  {model} - bicubic, PSNR-Y: {g:+.3f} dB" + "".join(
            f"; {o} {v:+.3f} dB" for o, v in orient.items() if v is not None) + "\n")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
