"""Unit tests of the speed section's parts that need no GStreamer, no plugin and no clip: the
element variants' pipelines (argument lists), the fp32 peak estimate from fixture /proc/cpuinfo
texts, the GFLOP/s figures, and the report with and without the keys issue #20 added.

    scripts/bench-python -m pytest bench/test_speed_report.py
"""

import copy
import json
from pathlib import Path

import pytest

from ntcommon import gst
from ntcommon.paths import ROOT

from . import methods, report, speed

COMMITTED = ROOT / "bench" / "results" / "results.json"


# --- pipelines --------------------------------------------------------------------------------

def test_pipeline_default_unchanged():
    """The I420 pipeline is what it was before the format parameter (training/thqa uses it too)."""
    assert gst.ntiresr_pipeline(Path("/a b/x.yuv"), 480, 270, raw=True, props={"n-threads": 1}) == [
        "gst-launch-1.0", "-q", "filesrc", "location=/a b/x.yuv", "!", "rawvideoparse", "width=480",
        "height=270", "format=i420", "framerate=25/1", "!", "ntiresr", "n-threads=1", "!",
        "video/x-raw,format=I420,width=1920,height=1080", "!", "fakesink", "sync=false"]
    assert gst.ntiresr_pipeline(Path("x.hevc"), 480, 270, Path("o.yuv")) == [
        "gst-launch-1.0", "-q", "filesrc", "location=x.hevc", "!", "h265parse", "!", "avdec_h265", "!",
        "ntiresr", "!", "video/x-raw,format=I420,width=1920,height=1080", "!", "filesink", "location=o.yuv"]


def test_pipeline_nv12():
    raw = gst.ntiresr_pipeline(Path("x.yuv"), 480, 270, raw=True, fmt="NV12")
    assert "format=nv12" in raw and "format=i420" not in raw
    assert "video/x-raw,format=NV12,width=1920,height=1080" in raw
    hevc = gst.ntiresr_pipeline(Path("x.hevc"), 480, 270, Path("o.yuv"), fmt="NV12")
    i = hevc.index("avdec_h265")
    assert hevc[i:i + 6] == ["avdec_h265", "!", "videoconvert", "!", "video/x-raw,format=NV12", "!"]
    assert hevc[hevc.index("ntiresr") + 2] == "video/x-raw,format=NV12,width=1920,height=1080"


@pytest.mark.parametrize("standin", [False, True])
def test_variants(standin):
    """ALL's element variants: their names, properties, speed-only flags and pipelines."""
    assert [n for n in methods.ALL if n.startswith("ntiresr")] == [
        "ntiresr", "ntiresr-tract", "ntiresr-nv12", "ntiresr-mirror", "ntiresr-detail", "ntiresr-avx2",
        "ntiresr-portable", "ntiresr-avx512bf16", "ntiresr-fp32"]
    ms = {n: methods.Gst(standin, **kw) for n, kw in methods.GST_VARIANTS.items()}
    pre = "ntiresr-standin" if standin else "ntiresr"
    assert [m.name for m in ms.values()] == [pre, f"{pre}-tract", f"{pre}-nv12", f"{pre}-mirror",
                                             f"{pre}-detail", f"{pre}-avx2", f"{pre}-portable",
                                             f"{pre}-avx512bf16", f"{pre}-fp32"]
    # the f32 paths compute ntiresr's network within 1e-5: timed only; bf16 and fp32 are scored
    assert [m.speed_only for m in ms.values()] == [False, True, True, False, False, True, True, False, False]
    assert [m.networks for m in ms.values()] == ([0] * 9 if standin else [1, 1, 1, 2, 1, 1, 1, 1, 1])
    # a kernel path is forced through the environment, not a property
    assert {n: m.env.get("NTIRESR_ISA") for n, m in ms.items() if m.isa} == {
        "ntiresr-avx2": "avx2", "ntiresr-portable": "portable", "ntiresr-avx512bf16": "avx512bf16"}
    cmd = {n: m.command(Path("in.yuv"), 480, 270, None, raw=True) for n, m in ms.items()}
    elem = "videoscale" if standin else "ntiresr"
    props = {n: c[c.index(elem) + 1:c.index("!", c.index(elem))] for n, c in cmd.items()}
    if standin:
        assert all(p == ["method=catrom"] for p in props.values())
    else:
        assert props == {"ntiresr": [], "ntiresr-tract": ["backend=tract"], "ntiresr-nv12": [],
                         "ntiresr-mirror": ["mirror-ensemble=true"], "ntiresr-detail": ["preset=detail"],
                         "ntiresr-avx2": [], "ntiresr-portable": [], "ntiresr-avx512bf16": [],
                         "ntiresr-fp32": ["precision=fp32"]}
    for n, c in cmd.items():
        f = "nv12" if n == "ntiresr-nv12" else "i420"
        assert f"format={f}" in c and f"video/x-raw,format={f.upper()},width=1920,height=1080" in c
    with pytest.raises(NotImplementedError):
        ms["ntiresr-nv12"].upscale(None, Path("x.hevc"))


def test_make_standin_variants():
    """Without the plugin, --ntiresr-standin makes every variant (no backend check)."""
    ms = methods.make(["ntiresr", "ntiresr-tract", "ntiresr-nv12"], standin=True)
    assert [m.name for m in ms] == ["ntiresr-standin", "ntiresr-standin-tract", "ntiresr-standin-nv12"]
    assert all(m.missing_backend() is None for m in ms)


INSPECT = """\
Element Properties:

  backend             : Where the network runs
                        flags: readable, writable, changeable only in NULL or READY state
                        Enum "GstNtireSrBackend" Default: 0, "cpu"
                           (0): cpu              - CPU: the plugin's own SIMD kernels where they cover the model
                           (1): cuda             - CUDA: tract-cuda
                           (2): tract            - CPU: tract alone
  mirror-ensemble     : Also run the network on the left-right mirror image
                        flags: readable, writable, changeable only in NULL or READY state
                        Boolean. Default: false
  qos                 : Handle Quality-of-Service events
                        Enum "Other" Default: 0, "x"
                           (0): x                - not a backend

Element Signals:
"""


def test_parse_enum_values():
    assert gst.parse_enum_values(INSPECT, "backend") == ["cpu", "cuda", "tract"]
    assert gst.parse_enum_values(INSPECT, "mirror-ensemble") == []
    assert gst.parse_enum_values(INSPECT, "absent") == []
    old = INSPECT.replace("                           (2): tract            - CPU: tract alone\n", "")
    assert gst.parse_enum_values(old, "backend") == ["cpu", "cuda"]


# --- the fp32 peak ------------------------------------------------------------------------------

def _cpuinfo(vendor="GenuineIntel", family=6, flags="fpu sse sse2 avx avx2 fma avx512f", mhz=(2000.0, 2100.0),
             siblings=None, cores=None, name="Some CPU") -> str:
    blocks = []
    for i, m in enumerate(mhz):
        lines = [f"processor\t: {i}", f"vendor_id\t: {vendor}", f"cpu family\t: {family}", "model\t\t: 17",
                 f"model name\t: {name}", f"cpu MHz\t\t: {m:.3f}"]
        if siblings:
            lines += [f"siblings\t: {siblings}", f"cpu cores\t: {cores}"]
        lines += [f"flags\t\t: {flags}", "bogomips\t: 5192.28"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


# this machine's /proc/cpuinfo, first block, shortened: AMD EPYC (Zen 4, family 25), 2 vCPUs in a VM
ZEN4 = """\
processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
cpu MHz\t\t: 2596.142
cache size\t: 1024 KB
siblings\t: 2
core id\t\t: 0
cpu cores\t: 2
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512bw avx512vl \
avx512_bf16 avx512_vnni
bogomips\t: 5192.28

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
cpu MHz\t\t: 2596.142
flags\t\t: fpu vme sse sse2 ssse3 fma avx avx2 avx512f
"""


def test_peak_zen4_fixture():
    p = speed.fp32_peak(ZEN4, 2)
    assert p["flop_per_cycle"] == 32 and "Zen 4" in p["isa"] and p["cores"] == 2
    assert p["clock_source"] == "/proc/cpuinfo cpu MHz" and p["mhz"] == pytest.approx(2596.142)
    assert p["gflops"] == pytest.approx(2 * 2596.142 * 32 / 1000)
    assert p["cpu"] == "AMD EPYC"


def test_peak_isa_rules():
    assert speed.fp32_peak(_cpuinfo(), 1)["flop_per_cycle"] == 64  # Intel AVX-512F
    zen5 = speed.fp32_peak(_cpuinfo(vendor="AuthenticAMD", family=26), 1)
    assert zen5["flop_per_cycle"] == 64 and "Zen 5" in zen5["isa"]
    assert speed.fp32_peak(_cpuinfo(flags="sse2 avx avx2 fma"), 1)["flop_per_cycle"] == 32
    assert speed.fp32_peak(_cpuinfo(flags="sse2 avx avx2"), 1)["flop_per_cycle"] == 16  # AVX2, no FMA
    assert speed.fp32_peak(_cpuinfo(flags="sse sse2"), 1)["flop_per_cycle"] == 16


def test_peak_clock_and_cores():
    info = _cpuinfo(mhz=(2000.0, 2400.0), siblings=4, cores=2)
    p = speed.fp32_peak(info, 4)  # 4 logical CPUs, 2 threads per core: 2 cores
    assert (p["cores"], p["logical_cpus"], p["threads_per_core"]) == (2, 4, 2)
    assert p["mhz"] == 2400.0 and p["gflops"] == pytest.approx(2 * 2400 * 64 / 1000)
    assert speed.fp32_peak(info, 3)["cores"] == 2  # rounded up
    lscpu = "Architecture:        x86_64\nCPU max MHz:         3700.0000\nCPU min MHz:         1000.0000\n"
    p = speed.fp32_peak(info, 4, lscpu)
    assert p["clock_source"] == "lscpu CPU max MHz" and p["mhz"] == 3700.0
    assert speed.fp32_peak(info, 4, "CPU max MHz: 0\n")["mhz"] == 2400.0  # a VM's empty field
    assert speed.fp32_peak(_cpuinfo(mhz=()), 1) is None
    assert speed.fp32_peak("processor\t: 0\ncpu MHz\t\t: 2000.0\n", 1) is None  # no flags


def test_machine_peak_here():
    p = speed.machine_peak()
    assert "skipped" in p or (p["gflops"] > 0 and p["cores"] >= 1)


# --- GFLOP/s and the report ---------------------------------------------------------------------

def test_element_figures():
    ms = [methods.Gst(**kw) for kw in methods.GST_VARIANTS.values()] + [methods.Gst(standin=True)]
    fps = {"ntiresr": 40.0, "ntiresr-tract": 16.0, "ntiresr-nv12": 41.0, "ntiresr-mirror": 20.0,
           "ntiresr-standin": 300.0}
    speeds = {n: {"fps": f} for n, f in fps.items()}
    el = speed.element_figures(ms, speeds, 4.0, 20.0, {"gflops": 320.0})
    # no stand-in, and no ntiresr-detail: it was not timed
    assert list(el) == ["ntiresr", "ntiresr-tract", "ntiresr-nv12", "ntiresr-mirror"]
    assert el["ntiresr"]["gflops"] == 160 and el["ntiresr"]["over_onnxruntime"] == 2
    assert el["ntiresr"]["peak_share"] == 0.5 and el["ntiresr"]["backend"] == "default"
    assert el["ntiresr-tract"]["backend"] == "tract" and el["ntiresr-tract"]["over_onnxruntime"] == 0.8
    assert el["ntiresr-nv12"]["format"] == "NV12"
    assert el["ntiresr-mirror"]["gflops"] == 160 and el["ntiresr-mirror"]["networks_per_frame"] == 2
    assert "peak_share" not in speed.element_figures(ms, speeds, 4.0, 20.0, {"skipped": "x"})["ntiresr"]


def test_each_variant_is_held_to_its_own_paths_peak():
    ms = {m.name: m for m in (methods.Gst(**kw) for kw in methods.GST_VARIANTS.values())}
    zen4 = {"threads": 2, "gflops": {"avx512bf16": 230.0, "avx512": 115.0, "avx2": 115.0, "portable": 25.0}}
    f32_only = {"threads": 2, "gflops": {"avx2": 100.0, "portable": 25.0}}
    # the default takes bf16 where the CPU has it; precision=fp32, tract and onnxruntime: the best f32
    assert speed.method_path(ms["ntiresr"], zen4) == "avx512bf16"
    assert speed.method_path(ms["ntiresr-fp32"], zen4) == "avx512"
    assert speed.method_path(ms["ntiresr-tract"], zen4) == "avx512"
    assert speed.method_path(None, zen4) == "avx512"
    assert speed.method_path(ms["ntiresr-avx2"], zen4) == "avx2"
    assert speed.method_path(ms["ntiresr"], f32_only) == "avx2"
    assert speed.method_path(ms["ntiresr-avx512bf16"], f32_only) is None  # not measured: no share
    assert speed.method_path(ms["ntiresr"], {"skipped": "not built"}) is None
    speeds = {"ntiresr": {"fps": 40.0}, "ntiresr-fp32": {"fps": 25.0}}
    el = speed.element_figures([ms["ntiresr"], ms["ntiresr-fp32"]], speeds, 4.0, 20.0, None, zen4)
    assert el["ntiresr"]["path"] == "avx512bf16" and el["ntiresr"]["path_peak_share"] == 160 / 230
    assert el["ntiresr-fp32"]["path"] == "avx512" and el["ntiresr-fp32"]["path_peak_share"] == 100 / 115
    assert "path" not in speed.element_figures([ms["ntiresr"]], speeds, 4.0, 20.0, None)["ntiresr"]


def test_path_peaks_here():
    p = speed.path_peaks(1, 0.02)
    assert "skipped" in p or (p["threads"] == 1 and all(g > 0 for g in p["gflops"].values()))


def _new_speed(data: dict) -> dict:
    """A results.json of before #20 with the speed section a run would now write."""
    d = copy.deepcopy(data)
    sp, mo = d["speed"], d["speed"]["model"]
    sp["methods"]["ntiresr-tract"] = {"fps": 16.9, "runs": [16.9], "frames": 40}
    sp["methods"]["ntiresr-nv12"] = {"fps": 40.2, "runs": [40.2], "frames": 80}
    sp["methods"]["ntiresr"]["fps"] = 41.0
    sp["peak"] = speed.fp32_peak(ZEN4, 2)
    pp = sp["path_peaks"] = {"threads": 2, "gflops": {"avx512bf16": 230.0, "avx512": 115.0, "avx2": 115.0}}
    ms = [methods.Gst(**kw) for kw in methods.GST_VARIANTS.values()]
    g, ort = mo["gflop_per_frame"], mo["onnxruntime"]
    ort["gflops"], ort["peak_share"] = g * ort["fps"], g * ort["fps"] / sp["peak"]["gflops"]
    ort["path"], ort["path_peak_share"] = "avx512", ort["gflops"] / 115.0
    mo["elements"] = speed.element_figures(ms, sp["methods"], g, ort["fps"], sp["peak"], pp)
    mo["tract_gflops"] = mo["elements"]["ntiresr-tract"]["gflops"]
    mo["tract_over_onnxruntime"] = mo["elements"]["ntiresr-tract"]["over_onnxruntime"]
    d["settings"]["speed_only"] = ["ntiresr-tract", "ntiresr-nv12"]
    return d


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(COMMITTED.read_text())


def _old_speed(data: dict) -> dict:
    """The results.json a run before #20 wrote: no peak, no per-variant figures, no speed-only
    methods, tract's GFLOP/s taken from `ntiresr` (then tract in the element)."""
    d = copy.deepcopy(data)
    sp, mo = d["speed"], d["speed"]["model"]
    sp.pop("peak", None)
    mo.pop("elements", None)
    for name in ("ntiresr-tract", "ntiresr-nv12"):
        sp["methods"].pop(name, None)
    for key in ("gflops", "peak_share"):
        mo["onnxruntime"].pop(key, None)
    d["settings"].pop("speed_only", None)
    fps = sp["methods"]["ntiresr"]["fps"]
    mo["tract_gflops"] = mo["gflop_per_frame"] * fps
    mo["tract_over_onnxruntime"] = fps / mo["onnxruntime"]["fps"]
    return d


def test_report_committed_results(committed):
    """The committed results.json renders, with its per-variant speed table when it has one."""
    md = report.markdown(committed, "bench/results/crops.png")
    assert md.startswith(report.START) and md.rstrip().endswith(report.END)
    assert "| ntiresr |" in md and "| ntiresr-mirror |" in md
    if "elements" in committed["speed"]["model"]:
        assert "| network |" in md and "fp32 FMA peak" in md


def test_report_old_results():
    """A results.json of before #20 (no peak, no per-variant figures) renders as it did."""
    old = _old_speed(json.loads(COMMITTED.read_text()))
    md = report.markdown(old, "bench/results/crops.png")
    assert md.startswith(report.START) and md.rstrip().endswith(report.END)
    mo = old["speed"]["model"]
    assert f"tract, in the element, reaches {mo['tract_gflops']:.1f} GFLOP/s" in md
    assert "fp32 FMA peak" not in md and "| network |" not in md and "timed only" not in md
    assert "| ntiresr |" in md and "| ntiresr-mirror |" in md


def test_report_new_keys(committed):
    d = _new_speed(committed)
    md = report.markdown(d)
    table = [l for l in md.splitlines() if l.startswith("| ntiresr") and "GFLOP" not in l and "backend=" in l]
    el = d["speed"]["model"]["elements"]
    assert [l.split(" | ")[0][2:] for l in table] == list(el)  # one row per variant, in order
    tract = next(l for l in table if l.startswith("| ntiresr-tract |"))
    assert "tract alone (backend=tract)" in tract and f"| {el['ntiresr-tract']['gflops']:.1f} |" in tract
    assert f"| {el['ntiresr-tract']['over_onnxruntime']:.2f} |" in tract
    assert f"{100 * el['ntiresr-tract']['peak_share']:.0f}% |" in tract
    assert "NV12 in and out" in next(l for l in table if l.startswith("| ntiresr-nv12 |"))
    assert "2 networks per frame" in next(l for l in table if l.startswith("| ntiresr-mirror |"))
    assert any(l.startswith("| onnxruntime | ") and l.endswith(" | 1.00 | "
               f"{100 * d['speed']['model']['onnxruntime']['peak_share']:.0f}% |"
               f" {100 * d['speed']['model']['onnxruntime']['path_peak_share']:.0f}% (avx512) |")
               for l in md.splitlines())
    assert f"{100 * el['ntiresr']['path_peak_share']:.0f}% (avx512bf16) |" in table[0]
    assert "Each kernel path's peak, measured on 2 thread(s)" in md and "avx512bf16 230" in md
    assert "fp32 FMA peak of this machine, an estimate" in md and "**166 GFLOP/s**" in md
    assert "/proc/cpuinfo cpu MHz" in md and "Zen 4" in md
    assert "ntiresr-tract, ntiresr-nv12: timed only" in md
    assert "tract, in the element, reaches" not in md  # the old sentence is for old results only
    quality = md[:md.index("PSNR-Y (dB) per QP")]
    assert "| ntiresr-tract |" not in quality and "| ntiresr-nv12 |" not in quality


def test_report_new_keys_partial(committed):
    """Peak not estimated, speed only (no quality summary), a model that was not found."""
    d = _new_speed(committed)
    del d["summary"], d["quality"]
    for e in d["speed"]["model"]["elements"].values():
        e.pop("peak_share")
    d["speed"]["model"]["onnxruntime"].pop("peak_share")
    d["speed"]["peak"] = {"skipped": "no /proc/cpuinfo"}
    md = report.markdown(d)
    assert "| ntiresr-tract | 16.9 |" in md  # the plain fps table lists every timed method
    assert "fp32 FMA peak: not estimated (no /proc/cpuinfo)" in md
    assert "| – |" in md  # share of the peak unknown
    d["speed"]["model"] = {"skipped": "models/x.onnx not found"}
    md = report.markdown(d)
    assert "Model: models/x.onnx not found." in md and "| network |" not in md
