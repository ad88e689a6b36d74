"""The ntiresr element in a gst-launch-1.0 pipeline, built as one argument list.

Every element, property and caps string is its own argument, never a string split on spaces:
gst-launch-1.0 escapes the spaces inside an argument itself, so a path with spaces stays one
`location=` value.
"""

import os
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


def _value(v) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def ntiresr_pipeline(src: Path, width: int, height: int, sink: Path | None = None, *,
                     raw: bool = False, props: Mapping[str, object] | None = None,
                     standin: bool = False) -> list[str]:
    """The gst-launch-1.0 command (argument list): `src` -> ntiresr -> raw I420 at FACTOR x
    (width x height) -> `sink`.

    src: an H.265 elementary stream (`filesrc ! h265parse ! avdec_h265`) or, with raw=True,
    tightly packed I420 frames of width x height (`filesrc ! rawvideoparse ... framerate=25/1`).
    sink: a file for the raw I420 output, or None for `fakesink sync=false` (speed runs).
    props: the element's properties, e.g. {"model-location": path, "mirror-ensemble": True}.
    standin: `videoscale method=catrom` (a bicubic) instead of ntiresr, props ignored: the
    pipeline's plumbing without the plugin.
    """
    if raw:
        source = ["filesrc", f"location={src}", "!", "rawvideoparse", f"width={width}",
                  f"height={height}", "format=i420", "framerate=25/1"]
    else:
        source = ["filesrc", f"location={src}", "!", "h265parse", "!", "avdec_h265"]
    if standin:
        element = ["videoscale", "method=catrom"]
    else:
        element = ["ntiresr", *(f"{k}={_value(v)}" for k, v in (props or {}).items())]
    caps = f"video/x-raw,format=I420,width={FACTOR * width},height={FACTOR * height}"
    sink_args = ["fakesink", "sync=false"] if sink is None else ["filesink", f"location={sink}"]
    return ["gst-launch-1.0", "-q", *source, "!", *element, "!", caps, "!", *sink_args]
