"""Print the model card's validation table from a benchmark's results.json.

    python -m training.card_table bench/results/results.json
"""

import json
import statistics
import sys


def main(path: str) -> None:
    rows = json.load(open(path))["quality"]
    by = {(r["clip"], r["qp"], r["method"]): r for r in rows}
    keys = sorted({(r["clip"], r["qp"], r["orientation"]) for r in rows})
    print("| clip | QP | ntiresr PSNR-Y | bicubic | Lanczos | gain vs bicubic | SSIM-Y ntiresr / bicubic "
          "| VMAF ntiresr / bicubic | LPIPS ntiresr / bicubic | PSNR-U/V ntiresr / bicubic |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    gains, per_qp, per_or = [], {}, {}
    for clip, qp, orient in keys:
        n, b, l = (by[(clip, qp, m)] for m in ("ntiresr", "bicubic", "lanczos"))
        g = n["psnr_y"] - b["psnr_y"]
        gains.append(g)
        per_qp.setdefault(qp, []).append(g)
        per_or.setdefault(orient, []).append(g)
        opt = lambda k, d: f"{n[k]:.{d}f} / {b[k]:.{d}f}" if k in n else "-"
        print(f"| {clip} ({orient}) | {qp} | {n['psnr_y']:.2f} | {b['psnr_y']:.2f} | {l['psnr_y']:.2f} "
              f"| {g:+.2f} | {n['ssim_y']:.4f} / {b['ssim_y']:.4f} | {opt('vmaf', 1)} | {opt('lpips', 3)} "
              f"| {n['psnr_u']:.2f}/{n['psnr_v']:.2f} / {b['psnr_u']:.2f}/{b['psnr_v']:.2f} |")
    print()
    print("Mean PSNR-Y gain over bicubic per QP: " + ", ".join(
        f"QP {qp}: {statistics.mean(v):+.2f} dB" for qp, v in sorted(per_qp.items()))
        + f"; overall {statistics.mean(gains):+.2f} dB.")
    print("By orientation: " + ", ".join(f"{o} {statistics.mean(v):+.2f} dB" for o, v in sorted(per_or.items())) + ".")
    for k, name in (("psnr_u", "PSNR-U"), ("psnr_v", "PSNR-V")):
        worst = min(((by[(c, q, "ntiresr")][k] - by[(c, q, "bicubic")][k]), c, q) for c, q, _ in keys)
        print(f"{name} gain over bicubic chroma: worst {worst[0]:+.2f} dB ({worst[1]} QP {worst[2]}), mean "
              f"{statistics.mean(by[(c, q, 'ntiresr')][k] - by[(c, q, 'bicubic')][k] for c, q, _ in keys):+.2f} dB.")


if __name__ == "__main__":
    main(sys.argv[1])
