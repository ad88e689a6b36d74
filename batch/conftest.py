"""Fixtures of the batch and Python-example tests: the plugin from target/release, small clips
made on the fly with gst-launch-1.0 (64x36 and 48x64, 10 frames), and a decoder that counts."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.onnx"
FRAMES = 10
TIMEOUT = 60  # seconds, for every helper process but the batch runs themselves

# name -> (width, height, gst-launch description of everything after the raw video caps)
CLIPS = {
    "a.mp4": (64, 36, "x264enc ! mp4mux name=mux ! filesink location={out}"),
    "sub/b.mkv": (
        64,
        36,
        "x264enc ! matroskamux name=mux ! filesink location={out} "
        "audiotestsrc num-buffers=20 ! audioconvert ! vorbisenc ! queue ! mux.",
    ),
    "sub/deeper/c.webm": (48, 64, "vp8enc ! webmmux ! filesink location={out}"),
    "d.avi": (64, 36, "jpegenc ! avimux ! filesink location={out}"),
}
CORRUPT = "bad.mp4"


@pytest.fixture(scope="session")
def plugin_env():
    """GST_PLUGIN_PATH to the built plugin (unless set); fails when ntiresr can't be made."""
    built = ROOT / "target" / "release"
    if not os.environ.get("GST_PLUGIN_PATH") and (built / "libgstntiresr.so").exists():
        os.environ["GST_PLUGIN_PATH"] = str(built)
    r = subprocess.run(["gst-inspect-1.0", "ntiresr"], capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        pytest.fail(
            f"no ntiresr element (GST_PLUGIN_PATH={os.environ.get('GST_PLUGIN_PATH')}): "
            "build it first, cargo build --release"
        )


def make_clip(path, width, height, tail, frames=FRAMES):
    path.parent.mkdir(parents=True, exist_ok=True)
    desc = (
        f"videotestsrc num-buffers={frames} pattern=ball "
        f"! video/x-raw,format=I420,width={width},height={height},framerate=25/1 ! " + tail.format(out=path)
    )
    subprocess.run(["gst-launch-1.0", "-q", *desc.split()], check=True, timeout=TIMEOUT, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    """IN_DIR: the four clips, a corrupt one (a.mp4 cut short: no moov) and a file that is no video."""
    d = tmp_path_factory.mktemp("in")
    for name, (w, h, tail) in CLIPS.items():
        make_clip(d / name, w, h, tail)
    (d / CORRUPT).write_bytes((d / "a.mp4").read_bytes()[:1500])
    (d / "notes.txt").write_text("not a video: not picked up\n")
    return d


def decode(path):
    """(frames, width, height, stream kinds) of a file, by decoding it to the end."""
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    p = Gst.parse_launch(f'filesrc location="{path}" ! decodebin name=d d. ! video/x-raw ! fakesink name=s')
    kinds = []
    p.get_by_name("d").connect(
        "pad-added", lambda _d, pad: kinds.append(pad.query_caps(None).get_structure(0).get_name())
    )
    frames, size = [0], []

    def count(pad, _info):
        frames[0] += 1
        if not size:
            s = pad.get_current_caps().get_structure(0)
            size.extend((s.get_value("width"), s.get_value("height")))
        return Gst.PadProbeReturn.OK

    p.get_by_name("s").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, count)
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(TIMEOUT * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.EOS, f"{path}: {msg and msg.parse_error()}"
    return frames[0], size[0], size[1], sorted(kinds)
