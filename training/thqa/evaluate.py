"""Evaluate thqa on the val clips (A03, A13, A16; plus A03 transposed as a portrait variant).

Each val clip variant x each degradation of dataset.py (pristine, blur, noise, H.265 at x1, x1/2,
x1/4, the x1/4 ones also upscaled by ntiresr / a peer, x1/4 H.264 and VP9) is one "clip" of 12
frames, judged at display size with the display = the original's shorter side. Its
target is the mean over frames of clamp(VMAF/20, 0, 5) (VMAF vs the original at the original's
size); its prediction is the mean of the frame scores. Reported: SRCC, PLCC (Pearson, raw, no
logistic fit) and (SRCC+PLCC)/2, overall, per degradation family, per orientation, per clip;
and thqa after ntiresr vs on the x1/4 decode per clip and QP (`before_after`).

Scorers:
  --scorer onnxruntime  the ONNX model in Python with the contract's patch sampling
                        (dataset.model_inputs) on every frame of the raw I420 files.
  --scorer element      the GStreamer element: `gst-launch-1.0 -m filesrc location=X.yuv !
                        rawvideoparse width=W height=H format=i420 framerate=25/1 ! thqa
                        display-height=D message-interval=0 ! fakesink` and the LAST bus message
                        `thqa`, field `clip-score`.

The degraded val videos are made once (dataset.build with keep_dir) under cache/val/.
Results: results/val-<scorer>.json and .md.

Usage: nice -n 5 .venv/bin/python -m training.thqa.evaluate --scorer onnxruntime
       .venv/bin/python -m training.thqa.evaluate --scorer element --plugin-dir <dir with a copy of libgstntiresr.so (it holds thqa)> \
           [--element-props "model-location=$PWD/models/thqa.onnx"]
"""

import argparse
import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import numpy as np

from ntcommon import clips as clips_mod
from ntcommon import degrade, gst
from ntcommon.paths import DATA, PEERS, ROOT

from . import dataset
from .dataset import CACHE, HERE

VAL_TRANSPOSED = ("A03",)


def val_variants(data: Path = DATA):
    out = []
    for clip in clips_mod.val_clips(data):
        cid = clips_mod.clip_id(clip.path)
        out.append((clip, cid, False))
        if cid in VAL_TRANSPOSED:
            out.append((clip, cid + "T", True))
    return out


def make_val(frames: int, plugin_dir: Path, root: Path, data: Path = DATA,
             peers: Path = PEERS) -> list[dict]:
    """Build (or reuse) the degraded val videos; -> list of version records."""
    recs = []
    for k, (clip, name, tr) in enumerate(val_variants(data)):
        meta = root / "yuv" / f"{name}.json"
        if not meta.exists():
            dataset.build(clip, name, tr, frames, root / f"{name}.npz", plugin_dir,
                          keep_dir=root / "yuv", seed=9000 + 100 * k, peers=peers)
        m = json.loads(meta.read_text())
        for v in m["versions"]:
            recs.append({"clip": name, "orientation": m["orientation"], "version": v["name"],
                         "family": v["family"], "width": v["width"], "height": v["height"],
                         "frames": len(v["targets"]), "target": float(np.mean(v["targets"])),
                         "display": min(m["width"], m["height"]),
                         "yuv": str(root / "yuv" / f"{name}__{v['name']}.yuv")})
    return recs


class OrtScorer:
    def __init__(self, onnx_path: Path):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        shp = self.sess.get_inputs()[0].shape  # [N, 1, P, P]
        self.g, self.p = int(round(shp[0] ** 0.5)), shp[2]

    def __call__(self, rec) -> float:
        w, h = rec["width"], rec["height"]
        y, _, _ = degrade.split_i420(Path(rec["yuv"]).read_bytes(), w, h)
        s = [float(self.sess.run(["score"], dataset.model_inputs(f, rec["display"], self.g, self.p))[0][0, 0])
             for f in y]
        return float(np.mean(s))


class ElementScorer:
    MSG = re.compile(r":\s*thqa[,;]")
    CLIP = re.compile(r"clip-score=\(g?double\)([-+0-9.eE]+|nan|inf)")

    def __init__(self, plugin_dir: Path | None, props: str):
        self.env = gst.plugin_env(plugin_dir)
        self.props = shlex.split(props)  # shell quoting: a model-location with spaces in quotes

    def __call__(self, rec) -> float:
        # The raw files are tightly packed I420. rawvideoparse's default layout pads every row
        # to 4 bytes, which misreads widths whose luma or chroma width is not a multiple of 4
        # (e.g. 270x480, 540x960, 180x240), so the layout is given explicitly.
        w, h = rec["width"], rec["height"]
        cw, ch = (w + 1) // 2, (h + 1) // 2
        layout = [f"plane-strides=<{w},{cw},{cw}>", f"plane-offsets=<0,{w * h},{w * h + cw * ch}>",
                  f"frame-size={w * h + 2 * cw * ch}"]
        pipe = ["filesrc", f"location={rec['yuv']}", "!", "rawvideoparse", f"width={w}", f"height={h}",
                "format=i420", "framerate=25/1", *layout, "!", "thqa", f"display-height={rec['display']}",
                "message-interval=0", *self.props, "!",
                "fakesink"]
        p = subprocess.run(["gst-launch-1.0", "-m", *pipe], env=self.env, capture_output=True,
                           text=True)
        if p.returncode:
            raise RuntimeError(f"gst-launch failed: {(p.stdout + p.stderr)[-2000:]}")
        last = None
        for line in p.stdout.splitlines():
            if self.MSG.search(line):
                m = self.CLIP.search(line)
                if m:
                    last = float(m.group(1))
        if last is None:
            raise RuntimeError(f"no thqa message with clip-score in gst-launch output:\n{p.stdout[-2000:]}")
        return last


def corr(pred, tgt) -> dict:
    from scipy.stats import pearsonr, spearmanr

    pred, tgt = np.asarray(pred), np.asarray(tgt)
    if len(pred) < 3 or np.std(tgt) == 0 or np.std(pred) == 0:
        return {"n": len(pred), "srcc": None, "plcc": None, "mean": None,
                "mae": float(np.abs(pred - tgt).mean())}
    s, p = float(spearmanr(pred, tgt)[0]), float(pearsonr(pred, tgt)[0])
    return {"n": len(pred), "srcc": s, "plcc": p, "mean": (s + p) / 2,
            "mae": float(np.abs(pred - tgt).mean())}


def report(recs) -> dict:
    def group(key):
        out = {}
        for k in sorted({r[key] for r in recs}):
            sel = [r for r in recs if r[key] == k]
            out[k] = corr([r["pred"] for r in sel], [r["target"] for r in sel])
        return out

    return {"overall": corr([r["pred"] for r in recs], [r["target"] for r in recs]),
            "family": group("family"), "orientation": group("orientation"), "clip": group("clip")}


BEFORE_AFTER_QPS = (22, 27, 32, 37)


def before_after(recs) -> dict:
    """thqa after ntiresr vs thqa on the x1/4 decode (judged at display size), per clip and QP:
    the prediction difference against the target difference (VMAF difference / 20)."""
    by = {(r["clip"], r["version"]): r for r in recs}
    rows = []
    for clip in sorted({r["clip"] for r in recs}):
        for qp in BEFORE_AFTER_QPS:
            a, b = by.get((clip, f"x4-qp{qp}")), by.get((clip, f"x4-qp{qp}-ntiresr"))
            if a is None or b is None:
                continue
            dt, dp = b["target"] - a["target"], b["pred"] - a["pred"]
            rows.append({"clip": clip, "qp": qp, "before": a["pred"], "after": b["pred"],
                         "target_before": a["target"], "target_after": b["target"],
                         "d_target": dt, "d_pred": dp,
                         # VMAF says the output is better by >= 2 points: thqa must say higher.
                         "sign_ok": dp > 0 if dt >= 0.1 else (dp < 0 if dt <= -0.1 else True),
                         "size_ok": abs(dp - dt) <= 1.0})
    return {"pairs": rows, "sign_ok": sum(r["sign_ok"] for r in rows),
            "size_ok": sum(r["size_ok"] for r in rows), "n": len(rows)}


def fmt(x):
    return "-" if x is None else f"{x:.3f}"


def markdown(res: dict, scorer: str, model: str) -> str:
    lines = [f"# thqa on val ({scorer})", "",
             f"Model: `{model}`. Each row of a table pools the listed val \"clips\" (val clip variant x "
             "degradation, 12 frames each, judged at display size); target = mean VMAF/20 vs the original at the original's "
             "size; prediction = mean frame score. PLCC is raw Pearson (no logistic fit). "
             "'-': undefined (constant targets).", "",
             "| group | n | SRCC | PLCC | (SRCC+PLCC)/2 | MAE |", "|---|---|---|---|---|---|"]
    o = res["overall"]
    lines.append(f"| **overall** | {o['n']} | {fmt(o['srcc'])} | {fmt(o['plcc'])} | **{fmt(o['mean'])}** | {fmt(o['mae'])} |")
    for sec in ("family", "orientation", "clip"):
        for k, v in res[sec].items():
            lines.append(f"| {sec}: {k} | {v['n']} | {fmt(v['srcc'])} | {fmt(v['plcc'])} | {fmt(v['mean'])} | {fmt(v['mae'])} |")
    ba = res.get("before_after")
    if ba:
        lines += ["", "## Before / after ntiresr (x1/4 H.265 decode judged at display size vs its ntiresr "
                  "upscale)", "",
                  f"Sign right (VMAF gain >= 2 points -> higher score): {ba['sign_ok']} / {ba['n']}; "
                  f"difference within 1 of VMAF difference / 20: {ba['size_ok']} / {ba['n']}.", "",
                  "| clip | QP | thqa before | thqa after | difference | target before | target after | "
                  "target difference |", "|---|---|---|---|---|---|---|---|"]
        for r in ba["pairs"]:
            lines.append(f"| {r['clip']} | {r['qp']} | {r['before']:.2f} | {r['after']:.2f} | {r['d_pred']:+.2f} | "
                         f"{r['target_before']:.2f} | {r['target_after']:.2f} | {r['d_target']:+.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scorer", choices=["onnxruntime", "element"], default="onnxruntime")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "thqa.onnx")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--plugin-dir", type=Path, default=None,
                    help="element scorer: folder with the thqa plugin (GST_PLUGIN_PATH)")
    ap.add_argument("--element-props", default="", help="extra properties for the thqa element")
    ap.add_argument("--ntiresr-plugin-dir", type=Path, default=dataset.DEFAULT_PLUGIN_DIR,
                    help="folder with a copy of libgstntiresr.so (to make the val videos)")
    ap.add_argument("--cache", type=Path, default=CACHE / "val")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--make-only", action="store_true", help="only build the val videos and targets")
    ap.add_argument("--data", type=Path, default=DATA,
                    help="the shared clips (default: $NTIRESR_DATA, else ../shared/data)")
    ap.add_argument("--peers", type=Path, default=PEERS,
                    help="the peer models (default: $NTIRESR_PEERS, else ../shared/peers)")
    a = ap.parse_args()
    t0 = time.time()
    recs = make_val(a.frames, a.ntiresr_plugin_dir, a.cache, a.data, a.peers)
    print(f"{len(recs)} val clips ready ({time.time() - t0:.0f}s)", flush=True)
    if a.make_only:
        return
    scorer = OrtScorer(a.model) if a.scorer == "onnxruntime" else ElementScorer(a.plugin_dir, a.element_props)
    for r in recs:
        r["pred"] = scorer(r)
    res = report(recs)
    res["before_after"] = before_after(recs)
    model = a.model
    if a.scorer == "element":  # the element loads its own model unless model-location names one
        loc = [p.split("=", 1)[1] for p in shlex.split(a.element_props) if p.startswith("model-location=")]
        model = Path(loc[0]) if loc else Path("(the element's embedded model)")
    res["scorer"], res["model"] = a.scorer, str(model)
    res["clips"] = [{k: v for k, v in r.items() if k != "yuv"} for r in recs]
    a.results.mkdir(parents=True, exist_ok=True)
    (a.results / f"val-{a.scorer}.json").write_text(json.dumps(res, indent=1))
    md = markdown(res, a.scorer, model.name)
    (a.results / f"val-{a.scorer}.md").write_text(md)
    print(md)
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
