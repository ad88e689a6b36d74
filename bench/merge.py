"""Merge benchmark runs into one results.json: the quality rows of several runs, the speed of one.

    python -m bench.merge --quality bench-out/results.json bench-detail/results.json \
        --speed bench-speed/results.json --out bench-merged

For when one run cannot hold everything: a method added after the long run (the quality of
`ntiresr-detail` beside the others), or speed timed again on an idle machine. The quality runs
must share clips, frames and QPs; a (clip, QP, method) measured in more than one run must agree
to 1e-6 in every metric (the methods are deterministic, so a mismatch means the runs measured
different things), otherwise the merge fails and says which. The provenance keeps every run's
command, commit and date; `bench.update_readme --results <out>/results.json` then writes the
README section from the merged file.
"""

import argparse
import json
import shutil
from pathlib import Path

from . import report
from .methods import ALL

METRIC_TOLERANCE = 1e-6


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"{path}: cannot read a benchmark results.json ({e})")


def merge(quality: list[tuple[Path, dict]], speed: tuple[Path, dict] | None) -> dict:
    """The merged results (see the module docstring); `quality` and `speed` are (path, data)."""
    if not quality:
        raise SystemExit("bench.merge: give at least one --quality run")
    if speed and "speed" not in speed[1]:
        raise SystemExit(f"{speed[0]}: has no speed section (a --no-speed run?)")
    first_path, first = quality[0]
    rows: dict[tuple, dict] = {}
    methods: list[str] = []
    for path, data in quality:
        if "quality" not in data:
            raise SystemExit(f"{path}: has no quality section (a --no-quality run?)")
        for key in ("frames", "qps"):
            if data["settings"][key] != first["settings"][key]:
                raise SystemExit(f"{path}: settings.{key} {data['settings'][key]} differs from "
                                 f"{first_path}'s {first['settings'][key]}")
        for r in data["quality"]:
            k = (r["clip"], r["qp"], r["method"])
            if k in rows:
                old = rows[k]
                for metric, v in r.items():
                    if isinstance(v, float) and metric != "seconds" and old.get(metric) is not None \
                            and abs(v - old[metric]) > METRIC_TOLERANCE:
                        raise SystemExit(f"{path}: {k} {metric} is {v}, another run gave {old[metric]}")
                continue
            rows[k] = r
            if r["method"] not in methods:
                methods.append(r["method"])
    # the usual order of the tables (ALL's), whichever run measured a method
    methods.sort(key=lambda m: ALL.index(m) if m in ALL else len(ALL))
    order = {m: i for i, m in enumerate(methods)}
    clips = {(r["clip"], r["qp"]) for r in rows.values()}
    for m in methods:
        missing = sorted(c for c in clips if (*c, m) not in rows)
        if missing:
            raise SystemExit(f"bench.merge: {m} has no rows for {missing} (the runs' clips differ)")

    parts = [("quality", p, d) for p, d in quality] + ([("speed", *speed)] if speed else [])
    prov = dict(first["provenance"])
    for key, sep in (("command", "; "), ("commit", ", "), ("date", ", ")):
        prov[key] = sep.join(dict.fromkeys(d["provenance"][key] for _, _, d in parts))
    prov["merged"] = [{"file": str(p), "part": part,
                       **{k: d["provenance"][k] for k in ("command", "commit", "date")}}
                      for part, p, d in parts]
    out = {"provenance": prov, "settings": dict(first["settings"])}
    out["settings"]["methods"] = methods
    out["settings"]["speed_only"] = speed[1]["settings"].get("speed_only", []) if speed else []
    out["quality"] = sorted(rows.values(), key=lambda r: (r["clip"], r["qp"], order[r["method"]]))
    out["summary"] = report.summary(out["quality"])
    if "crops" in first:
        out["crops"] = first["crops"]
    if speed:
        out["speed"] = speed[1]["speed"]
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quality", type=Path, nargs="+", required=True, help="runs whose quality rows to merge")
    ap.add_argument("--speed", type=Path, help="the run whose speed section to keep")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    a = ap.parse_args(argv)
    quality = [(p, _load(p)) for p in a.quality]
    speed = (a.speed, _load(a.speed)) if a.speed else None
    data = merge(quality, speed)
    a.out.mkdir(parents=True, exist_ok=True)
    crops = a.quality[0].parent / "crops.png"
    if crops.exists() and crops.parent.resolve() != a.out.resolve():
        shutil.copy(crops, a.out / "crops.png")
    j, md = report.write(a.out, data)
    print(f"wrote {j} and {md}")
    return data


if __name__ == "__main__":
    main()
