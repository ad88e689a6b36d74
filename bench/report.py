"""Provenance of a run, and the results as JSON and as the README's Markdown section."""

import json
import os
import platform
import shlex
import statistics
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ntcommon.paths import ROOT

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
# (key, column title, digits); LPIPS and tRMSE-Y: lower is better.
COLUMNS = [("psnr_y", "PSNR-Y", 2), ("ssim_y", "SSIM-Y", 4), ("psnr_u", "PSNR-U", 2),
           ("psnr_v", "PSNR-V", 2), ("vmaf", "VMAF", 2), ("vmaf_neg", "VMAF-NEG", 2),
           ("lpips", "LPIPS ↓", 4),
           ("trmse_y", "tRMSE-Y ↓", 2)]


def _out(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def provenance(argv: list[str]) -> dict:
    """The machine, the command and the commit that every figure of a run belongs to."""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    commit = _out(["git", "rev-parse", "--short=12", "HEAD"]) or "no commit"
    if _out(["git", "status", "--porcelain", "--untracked-files=no"]) or commit == "no commit":
        commit += " (uncommitted changes)"
    versions = {"ffmpeg": _out(["ffmpeg", "-version"]).split("\n")[0],
                "gstreamer": next((l for l in _out(["gst-launch-1.0", "--version"]).split("\n")
                                  if l.startswith("GStreamer")), "")}
    for pkg in ("numpy", "opencv-contrib-python-headless", "onnxruntime", "imageio-ffmpeg", "torch", "lpips"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # then the figures that need it are absent anyway
            pass
    return {"machine": {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**20, 1),
                        "os": f"{platform.system()} {platform.release()}", "host": platform.node()},
            "command": "scripts/benchmark " + shlex.join(argv), "commit": commit,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "versions": versions}


def _mean(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.fmean(vals) if vals else None


def summary(rows: list[dict]) -> dict:
    """Per method: means over all clips and QPs, and per QP, of every metric."""
    out = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == m]
        keys = [k for k, _, _ in COLUMNS]
        out[m] = {"mean": {k: _mean(mine, k) for k in keys},
                  "per_qp": {str(q): {k: _mean([r for r in mine if r["qp"] == q], k) for k in keys}
                             for q in dict.fromkeys(r["qp"] for r in mine)}}
    return out


def write(out_dir: Path, data: dict) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    j, md = out_dir / "results.json", out_dir / "results.md"
    j.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    md.write_text(markdown(data, "crops.png"))
    return j, md


def _fmt(v, digits):
    return "–" if v is None else f"{v:.{digits}f}"


_PCT = lambda v: "–" if v is None else f"{100 * v:.0f}%"


def _runs(e: dict) -> str:
    """What an element variant runs, in words (from its figures in results.json)."""
    backend = {"default": "own SIMD kernels (backend=cpu, the default)",
               "tract": "tract alone (backend=tract)"}.get(e["backend"], f"backend={e['backend']}")
    extra = [f"{e['format']} in and out"] if e.get("format", "I420") != "I420" else []
    if e.get("isa"):
        extra.append(f"the {e['isa']} path forced (NTIRESR_ISA={e['isa']})")
    if e.get("networks_per_frame", 1) > 1:
        extra.append(f"{e['networks_per_frame']} networks per frame (mirror ensemble)")
    return "; ".join([backend, *extra])


def _path_share(e: dict) -> str:
    """A variant's share of its kernel path's measured peak, with the path ("" if not measured)."""
    return f"{_PCT(e['path_peak_share'])} ({e['path']})" if "path" in e else ""


def _peak_sentence(pk: dict) -> str:
    smt = f", {pk['logical_cpus']} logical CPUs" if pk["logical_cpus"] != pk["cores"] else ""
    return (f"fp32 FMA peak of this machine, an estimate from its ISA and clock: {pk['cores']} core(s){smt}"
            f" x {pk['mhz'] / 1e3:.2f} GHz ({pk['clock_source']}) x {pk['flop_per_cycle']} FLOP per cycle"
            f" per core ({pk['isa']}) = **{pk['gflops']:.0f} GFLOP/s** (two FMA units per core assumed;"
            " sustained AVX clocks may be lower).")


def _network_lines(sp: dict) -> list[str]:
    """The model's cost, the GFLOP/s of each element variant and onnxruntime, the machine's peak."""
    mo, pk, lines = sp.get("model", {}), sp.get("peak", {}), []
    if "gflop_per_frame" in mo and "elements" in mo:
        ort = mo["onnxruntime"]
        lines += ["", f"Model `{mo['path']}`: {mo['gflop_per_frame']:.2f} GFLOP per frame (Conv nodes, 2 x"
                  " multiply-adds). GFLOP/s = GFLOP per frame x fps (the element's fps include the bicubic"
                  " base and the composition: a lower bound on its network's rate); x onnxruntime: the ratio"
                  f" to onnxruntime {ort['onnxruntime']} running the same ONNX graph alone, on random inputs."
                  " The default backend runs the plugin's own kernels where they cover the model and tract"
                  " otherwise; backend=tract is the path before issue #20.",
                  "", "| network | runs | fps | GFLOP/s | x onnxruntime | share of fp32 peak"
                  " | share of its path's peak |",
                  "|---|---|---:|---:|---:|---:|---|"]
        for name, e in mo["elements"].items():
            fps = sp["methods"][name]["fps"]
            lines.append(f"| {name} | {_runs(e)} | {fps:.1f} | {e['gflops']:.1f} |"
                         f" {e['over_onnxruntime']:.2f} | {_PCT(e.get('peak_share'))} | {_path_share(e)} |")
        lines.append(f"| onnxruntime | the ONNX graph alone (CPU provider, default threads) | {ort['fps']:.1f} |"
                     f" {ort['gflops']:.1f} | 1.00 | {_PCT(ort.get('peak_share'))} | {_path_share(ort)} |")
    elif "gflop_per_frame" in mo:  # results.json before #20: ntiresr ran on tract
        t = (f" tract, in the element, reaches {mo['tract_gflops']:.1f} GFLOP/s"
             f" ({mo['tract_over_onnxruntime']:.2f} x onnxruntime);" if "tract_gflops" in mo else "")
        lines += ["", f"Model `{mo['path']}`: {mo['gflop_per_frame']:.2f} GFLOP per frame;{t}"
                  f" onnxruntime {mo['onnxruntime']['onnxruntime']} runs the model alone at"
                  f" {mo['onnxruntime']['fps']:.1f} fps."]
    elif "skipped" in mo:
        lines += ["", f"Model: {mo['skipped']}."]
    pp = sp.get("path_peaks", {})
    if "gflops" in pp:
        each = ", ".join(f"{k} {v:.0f}" for k, v in pp["gflops"].items())
        lines += ["", f"Each kernel path's peak, measured on {pp['threads']} thread(s) at once (independent"
                  f" multiply-add chains, `cargo run --release --example peak`), GFLOP/s: {each}."]
    if "gflops" in pk:
        lines += ["", _peak_sentence(pk)]
    elif "skipped" in pk:
        lines += ["", f"fp32 FMA peak: not estimated ({pk['skipped']})."]
    return lines


def markdown(data: dict, image: str | None = None) -> str:
    """The README section (markers included) for a results.json; `image`: the crops PNG's link."""
    p, s, q = data["provenance"], data.get("summary", {}), data.get("quality", [])
    mc = p["machine"]
    lines = [START, "<!-- generated by scripts/benchmark (bench/update_readme.py): do not edit -->", ""]
    clips = sorted({f"{r['clip']} ({r['size']})" for r in q})
    qps = sorted({r["qp"] for r in q})
    if q:
        lines += [f"{len(clips)} clip(s): {', '.join(clips)}; H.265 QP {', '.join(map(str, qps))};"
                  f" {max(r['frames'] for r in q)} frames each (Track 2 degradation: Lanczos x4 down,"
                  " x265 constant QP, low delay)."]
    lines += ["", f"Machine: {mc['cpu']}, {mc['cores']} cores, {mc['memory_gib']} GiB; commit"
              f" `{p['commit']}`; {p['date']}; command: `{p['command']}`.", ""]
    speed = data.get("speed", {}).get("methods", {})
    if s:
        cols = [c for c in COLUMNS if any(v["mean"].get(c[0]) is not None for v in s.values())]
        lines += ["Quality, mean over clips and QPs (LPIPS and tRMSE-Y, the temporal error of"
                  " frame-to-frame differences in 8-bit levels: lower is better); fps: 480x270 ->"
                  " 1920x1080 on this machine.", "",
                  "| method | " + " | ".join(t for _, t, _ in cols) + " | fps |",
                  "|---|" + "---:|" * (len(cols) + 1)]
        for m, v in s.items():
            fps = speed.get(m, {}).get("fps")
            lines.append(f"| {m} | " + " | ".join(_fmt(v["mean"][k], d) for k, _, d in cols)
                         + f" | {_fmt(fps, 1)} |")
        timed_only = [m for m in data.get("settings", {}).get("speed_only", []) if m not in s]
        if timed_only:
            lines += ["", f"{', '.join(timed_only)}: timed only (speed below), not scored: tract alone"
                      " computes the same network as the default backend within 1e-5, and NV12 in and"
                      " out is the same computation on another chroma layout, so their quality is"
                      " ntiresr's."]
        for key, title in (("psnr_y", "PSNR-Y (dB)"), ("vmaf", "VMAF"), ("vmaf_neg", "VMAF-NEG")):
            if not any(v["mean"].get(key) is not None for v in s.values()):
                continue
            lines += ["", f"{title} per QP:", "",
                      "| method | " + " | ".join(f"QP {x}" for x in qps) + " |",
                      "|---|" + "---:|" * len(qps)]
            for m, v in s.items():
                lines.append(f"| {m} | " + " | ".join(_fmt(v["per_qp"].get(str(x), {}).get(key), 2)
                                                        for x in qps) + " |")
    sp = data.get("speed")
    if sp:
        lines += ["", f"Speed: median of {sp['repeat']} runs, {sp['input']} -> {sp['output']}."]
        if not s:
            lines += ["", "| method | fps |", "|---|---:|"]
            lines += [f"| {m} | {v['fps']:.1f} |" for m, v in speed.items()]
        lines += _network_lines(sp)
    if image and data.get("crops"):
        c = data["crops"]
        lines += ["", f"![face crops: {', '.join(c['panels'])}]({image})", "",
                  f"Face crop of {c['clip']}, QP {c['qp']}, frame {c['frame']}: {', '.join(c['panels'])}."]
    return "\n".join(lines + ["", END]) + "\n"
