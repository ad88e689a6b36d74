"""bench.merge: quality rows of several runs, the speed of one, and the checks that keep it honest."""

import json

import pytest

from . import merge

METRICS = dict(psnr_y=34.0, psnr_u=43.0, psnr_v=43.5, ssim_y=0.91, trmse_y=2.4, vmaf=41.0,
               vmaf_neg=39.0, lpips=0.26)


def _row(clip, qp, method, **over):
    return {"clip": clip, "file": f"{clip}.mp4", "size": "960x720", "orientation": "landscape",
            "qp": qp, "frames": 4, "hevc_kbit_per_frame": 10.0, "method": method, "seconds": 1.0,
            "lpips_frames": 1, **METRICS, **over}


def _run(methods, commit, speed=None, **over):
    rows = [_row(c, q, m, **over.get(m, {})) for c in ("A03", "A16") for q in (22, 37) for m in methods]
    d = {"provenance": {"command": f"scripts/benchmark --methods {','.join(methods)}", "commit": commit,
                        "date": "2026-12-02 13:42 UTC", "machine": {"cpu": "x", "cores": 2, "memory_gib": 1}},
         "settings": {"frames": 4, "qps": [22, 37], "methods": methods, "speed_only": []},
         "quality": rows}
    if speed:
        d["speed"] = {"repeat": 1, "input": "480x270", "output": "1920x1080",
                      "methods": {m: {"fps": f, "runs": [f], "frames": 10} for m, f in speed.items()}}
    return d


def test_merges_quality_runs_and_takes_speed_from_its_own_run(tmp_path):
    main = _run(["bicubic", "ntiresr", "lanczos"], "aaa", speed={"ntiresr": 20.0})
    detail = _run(["bicubic", "ntiresr-detail"], "bbb", **{"ntiresr-detail": {"vmaf": 55.0}})
    speed = _run(["ntiresr"], "ccc", speed={"ntiresr": 50.0, "ntiresr-detail": 51.0})
    out = merge.merge([(tmp_path / "a", main), (tmp_path / "b", detail)], (tmp_path / "c", speed))
    # every method once per clip and QP, in the tables' usual order
    assert out["settings"]["methods"] == ["ntiresr", "ntiresr-detail", "bicubic", "lanczos"]
    assert len(out["quality"]) == 4 * 4
    assert out["summary"]["ntiresr-detail"]["mean"]["vmaf"] == 55.0
    assert out["speed"]["methods"]["ntiresr"]["fps"] == 50.0  # the speed run's, not the first run's
    p = out["provenance"]
    assert p["commit"] == "aaa, bbb, ccc" and [m["part"] for m in p["merged"]] == ["quality", "quality", "speed"]
    assert "--methods bicubic,ntiresr-detail" in p["command"]


def test_a_row_measured_twice_must_agree():
    a = _run(["bicubic", "ntiresr"], "aaa")
    b = _run(["bicubic", "ntiresr-detail"], "bbb", bicubic={"psnr_y": 34.1})
    with pytest.raises(SystemExit, match="bicubic.*psnr_y"):
        merge.merge([("a", a), ("b", b)], None)


def test_runs_of_other_clips_or_settings_are_refused():
    a = _run(["bicubic"], "aaa")
    b = _run(["ntiresr"], "bbb")
    b["quality"] = [r for r in b["quality"] if r["clip"] == "A03"]
    with pytest.raises(SystemExit, match="ntiresr has no rows"):
        merge.merge([("a", a), ("b", b)], None)
    c = _run(["ntiresr"], "ccc")
    c["settings"]["frames"] = 20
    with pytest.raises(SystemExit, match="frames"):
        merge.merge([("a", a), ("c", c)], None)


def test_main_writes_results_and_markdown(tmp_path):
    for name, d in (("a", _run(["bicubic", "ntiresr"], "aaa")),
                    ("s", _run(["ntiresr"], "sss", speed={"ntiresr": 50.0}))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(d))
    merge.main(["--quality", str(tmp_path / "a" / "results.json"), "--speed",
                str(tmp_path / "s" / "results.json"), "--out", str(tmp_path / "m")])
    md = (tmp_path / "m" / "results.md").read_text()
    assert "commit `aaa, sss`" in md and "| ntiresr |" in md
