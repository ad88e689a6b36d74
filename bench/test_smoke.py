"""Smoke test of the benchmark: 4 frames of one synthetic clip (ffmpeg testsrc2, 640x360), QP 32.

    scripts/bench-python -m pytest bench/test_smoke.py

Methods: bicubic, lanczos and the ntiresr stand-in (GStreamer videoscale: the pipeline's plumbing,
also as ntiresr-tract and ntiresr-nv12, which are timed only),
plus fsrcnn-small if the peers folder ($NTIRESR_PEERS, else ../shared/peers) is there; test_ntiresr_plugin runs the real element if its
plugin is built (target/release). VMAF and LPIPS are scored if their packages are
installed (they are in the venv of scripts/bench-python). Needs no shared data; about 30 s.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ntcommon.paths import PEERS

from . import benchmark, methods, metrics, report, update_readme
from .frames import Video, check_rgb

W, H, N = 640, 360, 4


def _has(mod: str) -> bool:
    try:
        __import__(mod)
        return True
    except ImportError:
        return False


def _lpips_ok() -> bool:
    return _has("lpips") and Path(os.environ.get("LPIPS_ALEX_CKPT", "")).is_file()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "T01_testsrc2.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25",
                    "-frames:v", str(N), "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p",
                    str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def run(clip, tmp_path_factory):
    names = ["bicubic", "lanczos", "ntiresr", "ntiresr-tract", "ntiresr-nv12"]
    if PEERS.is_dir():
        names.append("fsrcnn-small")
    out = tmp_path_factory.mktemp("out")
    args = ["--clips", str(clip), "--frames", str(N), "--qps", "32", "--methods", ",".join(names),
            "--out", str(out), "--repeat", "1", "--speed-frames", "2", "--speed-seconds", "0.2",
            "--lpips-stride", "2", "--ntiresr-standin"]
    if not _has("imageio_ffmpeg"):
        args.append("--no-vmaf")
    if not _lpips_ok():
        args.append("--no-lpips")
    benchmark.main(args)
    return names, out


def test_outputs(run):
    names, out = run
    timed = [n.replace("ntiresr", "ntiresr-standin") for n in names]
    names = [n for n in timed if n not in ("ntiresr-standin-tract", "ntiresr-standin-nv12")]  # speed only
    data = json.loads((out / "results.json").read_text())
    assert data["settings"]["speed_only"] == ["ntiresr-standin-tract", "ntiresr-standin-nv12"]
    p = data["provenance"]
    assert p["machine"]["cores"] >= 1 and p["command"].startswith("scripts/benchmark") and p["commit"]
    rows = data["quality"]
    assert [r["method"] for r in rows] == names
    for r in rows:
        assert r["frames"] == N and r["size"] == f"{W}x{H}" and r["qp"] == 32
        assert 20 < r["psnr_y"] < 60 and 15 < r["psnr_u"] < 70 and 15 < r["psnr_v"] < 70
        assert 0.5 < r["ssim_y"] <= 1 and r["trmse_y"] >= 0
        if "vmaf" in r:
            assert 0 <= r["vmaf"] <= 100 and 0 <= r["vmaf_neg"] <= 100
        if "lpips" in r:
            assert 0 < r["lpips"] < 1
    bic = data["summary"]["bicubic"]["mean"]
    assert 20 < bic["psnr_y"] < 60
    assert list(data["speed"]["methods"]) == timed and all(v["fps"] > 0 for v in data["speed"]["methods"].values())
    assert data["speed"]["model"]["elements"] == {}  # a stand-in runs no network
    assert "gflops" in data["speed"]["peak"] or "skipped" in data["speed"]["peak"]
    md = (out / "results.md").read_text()
    assert md.startswith(report.START) and md.rstrip().endswith(report.END) and "| bicubic |" in md
    if "vmaf" in rows[0]:
        assert "VMAF per QP:" in md and "VMAF-NEG per QP:" in md and "| VMAF-NEG |" in md
    assert (out / "crops.png").stat().st_size > 1000
    assert data["crops"]["panels"][:2] == ["original", "bicubic"]


@pytest.mark.skipif(not methods.Gst().available(), reason="ntiresr plugin not built (target/release)")
def test_ntiresr_plugin(clip, tmp_path):
    """The real element through `filesrc ! h265parse ! avdec_h265 ! ntiresr ! ...`, and its speed."""
    data = benchmark.main(["--clips", str(clip), "--frames", str(N), "--qps", "32", "--methods",
                           "ntiresr,bicubic", "--out", str(tmp_path), "--repeat", "1", "--speed-frames",
                           "2", "--speed-seconds", "0.2", "--no-vmaf", "--no-lpips"])
    r = {x["method"]: x for x in data["quality"]}
    assert r["ntiresr"]["frames"] == N and 20 < r["ntiresr"]["psnr_y"] < 60
    assert data["speed"]["methods"]["ntiresr"]["fps"] > 0


def _has_backend(name: str) -> bool:
    m = methods.Gst(backend=name)
    return m.available() and m.missing_backend() is None


@pytest.mark.skipif(not _has_backend("tract"), reason="ntiresr plugin not built, or without backend=tract")
def test_ntiresr_variants_plugin(tmp_path):
    """The real element's speed-only variants: backend=tract, NV12 in and out, and each other kernel
    path this CPU runs (NTIRESR_ISA)."""
    paths = [n for n in ("ntiresr-avx2", "ntiresr-portable") if methods.Gst(**methods.GST_VARIANTS[n]).missing_isa() is None]
    names = ["ntiresr", "ntiresr-tract", "ntiresr-nv12", *paths]
    data = benchmark.main(["--no-quality", "--methods", ",".join(names), "--out", str(tmp_path),
                           "--repeat", "1", "--speed-frames", "2", "--speed-seconds", "0.2"])
    sp = data["speed"]
    assert all(sp["methods"][n]["fps"] > 0 for n in names)
    el = sp["model"]["elements"]
    assert list(el) == names and all(e["gflops"] > 0 and e["over_onnxruntime"] > 0 for e in el.values())
    assert sp["model"]["tract_gflops"] == el["ntiresr-tract"]["gflops"]
    md = (tmp_path / "results.md").read_text()
    assert "| ntiresr-nv12 | own SIMD kernels" in md and "| onnxruntime |" in md
    for n in paths:
        isa = n.removeprefix("ntiresr-")
        assert el[n]["isa"] == isa and f"NTIRESR_ISA={isa}" in md, md


def test_update_readme(run, tmp_path):
    _, out = run
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{report.START}\nold\n{report.END}\n\nafter\n")
    update_readme.main(["--results", str(out / "results.json"), "--readme", str(readme),
                        "--keep", str(tmp_path / "keep")])
    text = readme.read_text()
    assert "old" not in text and "before" in text and "after" in text and "| lanczos |" in text
    assert "](keep/crops.png)" in text and (tmp_path / "keep" / "results.json").exists()


def test_identical_and_metrics():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (3, 48, 64), dtype=np.uint8)
    assert metrics.psnr(a, a) == metrics.PSNR_CAP
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.temporal_rmse(a, a) == 0
    b = np.clip(a.astype(int) + 5, 0, 255).astype(np.uint8)
    assert 30 < metrics.psnr(a, b) < 35  # ~+5 levels -> about 34 dB
    assert metrics.ssim(a, b) < 1
    assert metrics.temporal_rmse(a, np.roll(a, 1, axis=0)) > 10


@pytest.mark.skipif(not _lpips_ok(), reason="lpips or its weights not installed")
def test_lpips_identical_zero():
    from .lpips_metric import Lpips

    lp = Lpips()
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    assert lp.distance(img, img) == pytest.approx(0.0, abs=1e-6)
    noisy = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    d = lp.distance(img, noisy, ref_key="x")
    assert 0.01 < d < 1 and d == pytest.approx(lp.reference(img, noisy), abs=1e-5)


def test_rgb_round_trip_close_to_ffmpeg(clip):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-frames:v", "1", "-pix_fmt",
                          "yuv420p", "-f", "rawvideo", "-"], check=True, capture_output=True).stdout
    c = check_rgb(Video.from_raw(raw, W, H))
    assert c["to_rgb_mean"] < 2 and c["to_i420_mean"] < 1
