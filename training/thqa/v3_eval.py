"""thqa v3 evaluation: grouped cross-validation by source (train clips) and the val check.

Rows come from `v3_data.py`. Folds: one group per source person (`v3_data.group`), groups dealt
to K folds after a seeded shuffle; nothing of a held-out group is seen by the estimators or the
map. Per fold: the estimator (features -> QP, resolution) is fitted on the other folds, the
monotone map (estimates -> VMAF/20) on the other folds' out-of-fold estimates (an inner grouped
split), and both are applied to the held-out fold. Val: fitted on every train clip, applied to
val/ (never used to choose).

Items: a version of a clip (the mean over its sampled frames), the unit of the v2 card's tables.
The pooled set is every item the element would see (`bicubic` rows, a player's upscale of a
decode, are reported apart). Baselines on the same items: the shipped v2 model, a QP oracle (the
same monotone map on the true QP and resolution labels; items with a QP label only, the originals
at v3_data.NATIVE_QP), the mean.

Usage: nice -n 10 .venv/bin/python -m training.thqa.v3_eval [--recipe mlp] [--json out.json]
"""

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

from . import v3_data, v3_features, v3_model

K = 6
SEED = 2026
RECIPES = {
    "ridge": lambda: v3_model.Ridge(1.0),
    "mlp": lambda: v3_model.Mlp(hidden=16),
    "mlp8": lambda: v3_model.Mlp(hidden=8),
    "mlp8wd": lambda: v3_model.Mlp(hidden=8, wd=3e-2, steps=800),
}
CONTENT = ("ln_grad",)  # content statistics the map may use (free sign)


def folds(groups: np.ndarray, k: int = K, seed: int = SEED) -> np.ndarray:
    """Fold index per row: whole groups per fold."""
    g = np.array(sorted(set(groups)))
    np.random.default_rng(seed).shuffle(g)
    of = {x: i % k for i, x in enumerate(g)}
    return np.array([of[x] for x in groups])


def content(d: dict, use: bool) -> np.ndarray | None:
    if not use:
        return None
    idx = [v3_features.FEATURES.index(c) for c in CONTENT]
    return d["features"][:, idx]


def fit_predict(d: dict, tr: np.ndarray, te: np.ndarray, recipe: str, use_content: bool) -> dict:
    """Fit on rows `tr`, predict rows `te`: qp, res, score."""
    x = d["features"]
    est = RECIPES[recipe]().fit(x[tr], d["qp"][tr], d["res"][tr])
    # the map sees out-of-fold estimates of the training rows (inner grouped split)
    inner = folds(d["group"][tr], 3, SEED + 1)
    q_oof, r_oof = np.zeros(tr.sum()), np.zeros(tr.sum())
    xi = x[tr]
    for f in range(3):
        m = inner == f
        e = RECIPES[recipe]().fit(xi[~m], d["qp"][tr][~m], d["res"][tr][~m])
        q_oof[m], r_oof[m] = v3_model.clamp(*e.predict(xi[m]), xi[m][:, 0])
    c = content(d, use_content)
    mono = v3_model.Monotone().fit(q_oof, r_oof, d["target"][tr], None if c is None else c[tr])
    q, r = v3_model.clamp(*est.predict(x[te]), x[te][:, 0])
    s = mono.predict(q, r, None if c is None else c[te])
    # QP oracle: the same map family on the true labels (rows with a QP label)
    lab = tr & np.isfinite(d["qp"])
    orc = v3_model.Monotone().fit(d["qp"][lab], d["res"][lab], d["target"][lab])
    qt = np.where(np.isfinite(d["qp"][te]), d["qp"][te], 0)
    o = np.where(np.isfinite(d["qp"][te]), orc.predict(qt, d["res"][te]), np.nan)
    return {"qp": q, "res": r, "score": s, "oracle": o, "mean": np.full(te.sum(), d["target"][tr].mean())}


def cross_validate(d: dict, recipe: str, use_content: bool) -> dict:
    tr_all = d["split"] == "train"
    fo = folds(d["group"])
    out = {k: np.full(len(d["target"]), np.nan) for k in ("qp", "res", "score", "oracle", "mean")}
    for f in range(K):
        te = tr_all & (fo == f)
        tr = tr_all & (fo != f)
        p = fit_predict(d, tr, te, recipe, use_content)
        for k, v in p.items():
            out[k][te] = v
    val = d["split"] == "val"
    if val.any():
        p = fit_predict(d, tr_all, val, recipe, use_content)
        for k, v in p.items():
            out[k][val] = v
    return out


def corr(p: np.ndarray, t: np.ndarray) -> dict:
    if len(p) < 3 or np.std(p) == 0:
        return {"n": int(len(p)), "srcc": float("nan"), "plcc": float("nan"), "mean": float("nan"),
                "mae": float(np.mean(np.abs(p - t))) if len(p) else float("nan")}
    s, pl = stats.spearmanr(p, t)[0], stats.pearsonr(p, t)[0]
    return {"n": int(len(p)), "srcc": float(s), "plcc": float(pl), "mean": float((s + pl) / 2),
            "mae": float(np.mean(np.abs(p - t)))}


def items(d: dict, pred: dict, rows: np.ndarray) -> dict:
    """Mean per (clip, version) over the sampled frames."""
    keys = [f"{c}|{v}" for c, v in zip(d["clip"][rows], d["version"][rows])]
    uniq, inv = np.unique(keys, return_inverse=True)
    n = np.bincount(inv)
    avg = lambda a: np.bincount(inv, a[rows]) / n
    out = {"key": uniq, "clip": np.array([k.split("|")[0] for k in uniq]),
           "version": np.array([k.split("|")[1] for k in uniq])}
    for k in ("target", "v2", "qp", "res"):
        out["true_" + k if k in ("qp", "res") else k] = avg(d[k])
    for k, v in pred.items():
        out[k] = avg(v)
    first = np.unique(inv, return_index=True)[1]
    for k in ("view", "codec"):
        out[k] = d[k][rows][first]
    return out


def qp_table(d: dict, pred: dict, rows: np.ndarray) -> dict:
    """QP estimate on frames with a QP label: MAE, within +-3, per-clip offset, within-clip order."""
    m = rows & np.isfinite(d["qp"]) & (d["codec"] != "none")  # originals: a nominal label only
    err = pred["qp"][m] - d["qp"][m]
    clips = d["clip"][m]
    offs, orders = {}, []
    for c in np.unique(clips):
        k = clips == c
        offs[c] = float(err[k].mean())
        t, p = d["qp"][m][k], pred["qp"][m][k]
        if np.std(t) > 0:
            orders.append(stats.spearmanr(p, t)[0])
    resid = np.concatenate([err[clips == c] - offs[c] for c in offs]) if offs else err
    return {"frames": int(m.sum()), "mae": float(np.abs(err).mean()), "within3": float((np.abs(err) <= 3).mean()),
            "bias": float(err.mean()), "offset_sd": float(np.std(list(offs.values()))),
            "offset_abs_max": float(np.max(np.abs(list(offs.values())))),
            "mae_after_offset": float(np.abs(resid).mean()),
            "order_srcc_mean": float(np.mean(orders)) if orders else float("nan"),
            "offsets": offs}


def before_after(it: dict) -> dict:
    """ntiresr output vs its own x1/4 decode (as the element sees it), where VMAF has the output
    >= 2 points (0.1) above: is the score higher too?"""
    idx = {k: i for i, k in enumerate(it["key"])}
    res = {"score": [], "v2": [], "oracle": []}
    for i, k in enumerate(it["key"]):
        if not k.endswith("-ntiresr"):
            continue
        j = idx.get(k.removesuffix("-ntiresr"))
        if j is None or it["target"][i] < it["target"][j] + 0.1:
            continue
        for s in res:
            res[s].append(bool(it[s][i] > it[s][j]))
    return {s: {"pairs": len(v), "after_gt_before": int(sum(v))} for s, v in res.items()}


def report(d: dict, pred: dict, split: str) -> dict:
    rows = d["split"] == split
    it = items(d, pred, rows & (d["view"] != "bicubic"))
    out = {"qp": {}, "res": {}, "score": {}, "families": {}}
    for name, m in (("all", rows), ("h265x4 own", rows & (d["view"] == "own") & (d["codec"] == "h265") & (d["res"] == -2)),
                    ("h265x4 bicubic", rows & (d["view"] == "bicubic")), ("ntiresr", rows & (d["view"] == "ntiresr")),
                    ("h265x2", rows & (d["res"] == -1) & (d["view"] == "own")),
                    ("h265x1", rows & (d["res"] == 0) & (d["codec"] == "h265")), ("h264x4", rows & (d["codec"] == "h264"))):
        out["qp"][name] = qp_table(d, pred, m)
    r = pred["res"][rows] - d["res"][rows]
    out["res"] = {"mae": float(np.abs(r).mean()), "class_acc": float((np.abs(r) < 0.5).mean())}
    for s in ("score", "v2", "oracle", "mean"):
        m = np.isfinite(it[s])
        out["score"][s] = corr(it[s][m], it["target"][m])
    fam = np.array([f"{c}-{v}" if c != "h265" else f"h265-{v}" for c, v in zip(it["codec"], it["view"])])
    for f in np.unique(fam):
        m = fam == f
        out["families"][f] = {s: corr(it[s][m & np.isfinite(it[s])], it["target"][m & np.isfinite(it[s])])
                              for s in ("score", "v2", "oracle")}
    # the outside check: the x1/4 H.265 decode (own size) and its ntiresr output at QP 22-37
    ch = np.array([any(v.startswith(f"h265x4-qp{q}") for q in (22, 27, 32, 37)) for v in it["version"]])
    for sc in ("score", "v2", "oracle"):
        out["score"][f"challenge set: {sc}"] = corr(it[sc][ch], it["target"][ch])
    bic = items(d, pred, rows & (d["view"] == "bicubic"))
    out["score"]["bicubic rows (v3)"] = corr(bic["score"], bic["target"])
    out["per_clip"] = {}
    for c in np.unique(it["clip"]):
        m = it["clip"] == c
        out["per_clip"][c] = {"score": corr(it["score"][m], it["target"][m]), "v2": corr(it["v2"][m], it["target"][m]),
                              "offset": float((it["score"][m] - it["target"][m]).mean())}
    out["before_after"] = before_after(it)
    return out


def markdown(full: dict) -> str:
    """The report's tables (models/thqa.md quotes them)."""
    f3 = lambda x: "-" if x is None or x != x else f"{x:.3f}"
    out = [f"recipe `{full['recipe']}`; train clips ({len(full['clips']['train'])}): "
           f"{', '.join(full['clips']['train'])}; val: {', '.join(full['clips']['val'])}", ""]
    for part, title in (("cv", "grouped cross-validation (train clips, out of fold)"), ("val", "val/ (fitted on all train clips)")):
        r = full[part]
        if r is None:
            continue
        out += [f"### {title}", "", "Compression estimate (frames with an exact QP label):", "",
                "| family | frames | MAE (QP) | within +-3 | mean error | per-clip offset sd | max abs offset | MAE less the clip's offset | within-clip SRCC |",
                "|---|---|---|---|---|---|---|---|---|"]
        for k, v in r["qp"].items():
            out.append(f"| {k} | {v['frames']} | {v['mae']:.2f} | {v['within3']:.0%} | {v['bias']:+.2f} | {v['offset_sd']:.2f} | "
                       f"{v['offset_abs_max']:.1f} | {v['mae_after_offset']:.2f} | {v['order_srcc_mean']:.2f} |")
        out += ["", f"Effective resolution (log2 of the display's, nominal classes): MAE {r['res']['mae']:.2f}, "
                f"right class {r['res']['class_acc']:.0%}.", "",
                "Score against VMAF/20, items = (clip, version) means over 3 frames:", "",
                "| scorer | items | SRCC | PLCC | (SRCC+PLCC)/2 | MAE |", "|---|---|---|---|---|---|"]
        names = {"score": "**v3**", "v2": "v2 (shipped network)", "oracle": "QP oracle (true QP and scale)", "mean": "the mean",
                 "challenge set: score": "challenge set (x1/4 decode + ntiresr, QP 22-37): **v3**",
                 "challenge set: v2": "challenge set: v2", "challenge set: oracle": "challenge set: QP oracle"}
        for k, v in r["score"].items():
            out.append(f"| {names.get(k, k)} | {v['n']} | {f3(v['srcc'])} | {f3(v['plcc'])} | {f3(v['mean'])} | {f3(v['mae'])} |")
        out += ["", "| family | items | v3 | v2 | QP oracle | v3 MAE |", "|---|---|---|---|---|---|"]
        for k, v in r["families"].items():
            out.append(f"| {k} | {v['score']['n']} | {f3(v['score']['mean'])} | {f3(v['v2']['mean'])} | {f3(v['oracle']['mean'])} | {f3(v['score']['mae'])} |")
        ba = r["before_after"]
        out += ["", "ntiresr output above its own x1/4 decode, where VMAF has it >= 2 points above: " +
                ", ".join(f"{names[k]} {v['after_gt_before']}/{v['pairs']}" for k, v in ba.items()), "",
                "| clip | v3 (SRCC+PLCC)/2 | v2 | v3 mean offset | QP offset |", "|---|---|---|---|---|"]
        offs = r["qp"]["all"]["offsets"]
        for c, v in r["per_clip"].items():
            out.append(f"| {c} | {f3(v['score']['mean'])} | {f3(v['v2']['mean'])} | {v['offset']:+.2f} | {offs.get(c, float('nan')):+.1f} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="mlp8")
    ap.add_argument("--content", action="store_true", help="let the map use CONTENT statistics")
    ap.add_argument("--json", type=Path, help="write the full report here")
    ap.add_argument("--markdown", type=Path, help="write the report's tables here")
    ap.add_argument("--cache", type=Path, default=v3_data.OUT, help="v3_data.py's output folder")
    ap.add_argument("--ntiresr-res", type=float, default=None,
                    help="the nominal log2 resolution label of ntiresr outputs (default: v3_data's)")
    ap.add_argument("--without", default="", help="comma-separated features to leave out (ablation)")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    d = v3_data.load_all(a.cache)
    if a.ntiresr_res is not None:
        d["res"] = np.where(d["view"] == "ntiresr", a.ntiresr_res, d["res"])
    drop = set(filter(None, a.without.split(",")))
    keep = [i for i, f in enumerate(v3_features.FEATURES) if f not in drop]
    d["features"] = d["features"][:, keep]
    pred = cross_validate(d, a.recipe, a.content)
    full = {"recipe": a.recipe, "content": a.content, "without": sorted(drop),
            "clips": {s: sorted(set(d["clip"][d["split"] == s])) for s in ("train", "val")},
            "cv": report(d, pred, "train"),
            "val": report(d, pred, "val") if (d["split"] == "val").any() else None}
    for part in ("cv", "val"):
        r = full[part]
        if r is None:
            continue
        print(f"== {part} ({a.recipe}, content={a.content})")
        for k, v in r["qp"].items():
            print(f"  qp {k:15s} n={v['frames']:5d} MAE {v['mae']:.2f} within3 {v['within3']:.0%} "
                  f"offset sd {v['offset_sd']:.2f} MAE-after-offset {v['mae_after_offset']:.2f} order {v['order_srcc_mean']:.2f}")
        print(f"  res MAE {r['res']['mae']:.2f} class acc {r['res']['class_acc']:.0%}")
        for k, v in r["score"].items():
            print(f"  score {k:18s} n={v['n']:4d} SRCC {v['srcc']:.3f} PLCC {v['plcc']:.3f} mean {v['mean']:.3f} MAE {v['mae']:.3f}")
        print("  before/after", r["before_after"])
    if a.json:
        a.json.write_text(json.dumps(full, indent=1, default=float))
    if a.markdown:
        a.markdown.write_text(markdown(full))


if __name__ == "__main__":
    main()
