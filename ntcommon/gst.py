"""The ntiresr element in a gst-launch-1.0 pipeline, built as one argument list.

Every element, property and caps string is its own argument, never a string split on spaces:
gst-launch-1.0 escapes the spaces inside an argument itself, so a path with spaces stays one
`location=` value.
"""

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

FACTOR = 4  # the element's upscaling factor


def plugin_env(plugin_path: Path | None, keep: bool = True) -> dict[str, str]:
    """os.environ with `plugin_path` first in GST_PLUGIN_PATH (with keep=False: the only entry)."""
    env = dict(os.environ)
    if plugin_path is not None:
        rest = os.environ.get("GST_PLUGIN_PATH") if keep else None
        env["GST_PLUGIN_PATH"] = os.pathsep.join(p for p in (str(plugin_path), rest) if p)
    return env


def has_element(name: str, env: Mapping[str, str]) -> bool:
    """Whether gst-inspect-1.0 finds the element `name` with the environment `env`."""
    return subprocess.run(["gst-inspect-1.0", name], env=env, capture_output=True).returncode == 0


def enum_values(element: str, prop: str, env: Mapping[str, str]) -> list[str]:
    """The nicks of the enum property `prop` of `element` as gst-inspect-1.0 lists them
    (e.g. ["cpu", "tract", "cuda"] for ntiresr's backend); [] if the element or property is absent."""
    p = subprocess.run(["gst-inspect-1.0", element], env=env, capture_output=True, text=True)
    return parse_enum_values(p.stdout, prop) if p.returncode == 0 else []


def parse_enum_values(inspect: str, prop: str) -> list[str]:
    """The enum nicks of `prop` in gst-inspect-1.0's text: the `(N): nick - description` lines
    of the property's block (which ends at the next property, an unindented line or a blank one)."""
    out, inside = [], False
    for line in inspect.splitlines():
        m = re.match(r"^  (\S+)\s+: ", line)  # a property's first line: two spaces, name, colon
        if m:
            inside = m.group(1) == prop
        elif inside and (not line.strip() or not line.startswith(" ")):
            inside = False
        elif inside:
            v = re.match(r"^\s+\(-?\d+\): (\S+)", line)
            if v:
                out.append(v.group(1))
    return out


def _value(v) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def ntiresr_pipeline(src: Path, width: int, height: int, sink: Path | None = None, *,
                     raw: bool = False, props: Mapping[str, object] | None = None,
                     standin: bool = False, fmt: str = "I420",
                     out_size: tuple[int, int] | None = None) -> list[str]:
    """The gst-launch-1.0 command (argument list): `src` -> ntiresr -> raw `fmt` at FACTOR x
    (width x height), or at `out_size` (1x to 4x the input's), -> `sink`.

    src: an H.265 elementary stream (`filesrc ! h265parse ! avdec_h265`, then `videoconvert` to
    `fmt` unless that is I420, the decoder's output) or, with raw=True, tightly packed frames of
    `fmt` of width x height (`filesrc ! rawvideoparse ... framerate=25/1`).
    fmt: the pixel format on both of the element's pads, "I420" or "NV12" (the element's output
    format is its input format).
    sink: a file for the raw output, or None for `fakesink sync=false` (speed runs).
    props: the element's properties, e.g. {"model-location": path, "mirror-ensemble": True}.
    standin: `videoscale method=catrom` (a bicubic) instead of ntiresr, props ignored: the
    pipeline's plumbing without the plugin.
    """
    if raw:
        source = ["filesrc", f"location={src}", "!", "rawvideoparse", f"width={width}",
                  f"height={height}", f"format={fmt.lower()}", "framerate=25/1"]
    else:
        source = ["filesrc", f"location={src}", "!", "h265parse", "!", "avdec_h265"]
        if fmt.upper() != "I420":
            source += ["!", "videoconvert", "!", f"video/x-raw,format={fmt.upper()}"]
    if standin:
        element = ["videoscale", "method=catrom"]
    else:
        element = ["ntiresr", *(f"{k}={_value(v)}" for k, v in (props or {}).items())]
    out_w, out_h = out_size or (FACTOR * width, FACTOR * height)
    caps = f"video/x-raw,format={fmt.upper()},width={out_w},height={out_h}"
    sink_args = ["fakesink", "sync=false"] if sink is None else ["filesink", f"location={sink}"]
    return ["gst-launch-1.0", "-q", *source, "!", *element, "!", caps, "!", *sink_args]
