"""Put a benchmark's results into README.md, between <!-- bench:start --> and <!-- bench:end -->.

    python -m bench.update_readme [--results bench-out/results.json] [--readme README.md]

Copies results.json and crops.png into bench/results/ (to be committed with the README, so the
section can be traced to the run that produced it) and regenerates the section from the JSON
(bench/report.py markdown()), never by hand. --append adds the section if README.md has none.
"""

import argparse
import json
import os
import shutil
from pathlib import Path

from ntcommon.paths import ROOT

from . import report


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "bench-out" / "results.json")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--keep", type=Path, default=ROOT / "bench" / "results",
                    help="where the JSON and PNG are copied")
    ap.add_argument("--append", action="store_true", help="append the section if the markers are missing")
    a = ap.parse_args(argv)
    data = json.loads(a.results.read_text())
    a.keep.mkdir(parents=True, exist_ok=True)
    if a.results.resolve() != (a.keep / "results.json").resolve():
        shutil.copyfile(a.results, a.keep / "results.json")
    image = None
    png = a.results.parent / "crops.png"
    if data.get("crops") and png.exists():
        if png.resolve() != (a.keep / "crops.png").resolve():
            shutil.copyfile(png, a.keep / "crops.png")
        image = os.path.relpath(a.keep / "crops.png", a.readme.resolve().parent)
    section = report.markdown(data, image)
    text = a.readme.read_text() if a.readme.exists() else ""
    i, j = text.find(report.START), text.find(report.END)
    if i >= 0 and j > i:
        text = text[:i] + section.rstrip("\n") + text[j + len(report.END):]
    elif a.append:
        text = text.rstrip("\n") + ("\n\n" if text else "") + "## Benchmark\n\n" + section
    else:
        raise SystemExit(f"{a.readme}: no {report.START} ... {report.END} section (use --append)")
    a.readme.write_text(text)
    print(f"updated {a.readme} from {a.results}")


if __name__ == "__main__":
    main()
