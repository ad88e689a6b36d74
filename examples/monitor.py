#!/usr/bin/env python3
"""ntiresr from Python (PyGObject): upscale a video and watch what it costs and what it gains.

    ... ! thqa name=before ! ntiresr ! thqa name=after ! ...

Every `--every` frames it prints a progress line with the quality scores of the `thqa` element
messages on either side of ntiresr and the time per frame from ntiresr's `stats` property; at
the end, the clip scores (the final `thqa` messages) and the stats.

    examples/monitor.py call_270p.mp4 call_1080p.mp4       # file in, H.264 MP4 out
    examples/monitor.py call_270p.mp4                      # to fakesink
    examples/monitor.py --frames 100 --size 480x270        # videotestsrc in, no file needed

Needs python3-gi, gir1.2-gstreamer-1.0 and gir1.2-gst-plugins-base-1.0 (Debian: scripts/setup-debian)
and the plugin on GST_PLUGIN_PATH (or installed). Exit status 0 at end of stream, 1 on an error.
"""

import argparse
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def build(args):
    if args.input:
        src = f'filesrc location="{args.input}" ! decodebin ! videoconvert'
    else:
        w, h = args.size.lower().split("x")
        src = (
            f"videotestsrc num-buffers={args.frames} pattern=ball "
            f"! video/x-raw,format=I420,width={w},height={h},framerate=25/1"
        )
    sr = "ntiresr name=sr"
    if args.model:
        sr += f' model-location="{args.model}"'
    if args.n_threads:
        sr += f" n-threads={args.n_threads}"
    sink = f'x264enc ! mp4mux ! filesink location="{args.output}"' if args.output else "fakesink"
    every = args.every
    return Gst.parse_launch(
        f"{src} ! thqa name=before message-interval={every} ! {sr} ! thqa name=after message-interval={every} ! {sink}"
    )


def stats(sr):
    """ntiresr's `stats` property (a GstStructure) as a dict."""
    s = sr.get_property("stats")
    return {s.nth_field_name(i): s.get_value(s.nth_field_name(i)) for i in range(s.n_fields())}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", help="video file (any container decodebin reads); default videotestsrc")
    p.add_argument("output", nargs="?", help="MP4 to write (H.264); default: fakesink")
    p.add_argument("--model", help="ntiresr model-location (default: the embedded model)")
    p.add_argument("--n-threads", type=int, default=0, help="ntiresr n-threads (default 0: all cores)")
    p.add_argument("--every", type=int, default=25, help="a progress line every this many frames")
    p.add_argument("--frames", type=int, default=100, help="videotestsrc: frames")
    p.add_argument("--size", default="480x270", help="videotestsrc: WIDTHxHEIGHT")
    args = p.parse_args()

    Gst.init(None)
    pipeline = build(args)
    sr = pipeline.get_by_name("sr")
    loop = GLib.MainLoop()
    last = {}  # thqa element name -> fields of its last message
    final = {}
    status = {"rc": 0}
    t0 = time.monotonic()

    def on_message(_bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.get_structure().get_name() == "thqa":
            s = msg.get_structure()
            fields = {
                k: s.get_value(k) for k in ("frame", "score", "clip-score", "ema-score", "frames-scored", "final")
            }
            name = msg.src.get_name()
            (final if fields["final"] else last)[name] = fields
            # `after` scores a frame after `before` did: print when its message for it arrives.
            if name == "after" and not fields["final"]:
                b = last.get("before", {})
                st = stats(sr)
                fps = st["frames"] / max(time.monotonic() - t0, 1e-9)
                print(
                    f"frame {fields['frame'] + 1:5d}  quality before {b.get('score', -1):.2f} after "
                    f"{fields['score']:.2f} (clip {b.get('clip-score', -1):.2f} -> {fields['clip-score']:.2f})  "
                    f"ntiresr {st['mean-ms']:.1f} ms/frame (max {st['max-ms']:.1f}), resets {st['resets']}, "
                    f"{fps:.1f} fps",
                    flush=True,
                )
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print(f"error from {msg.src.get_name()}: {err.message}\n{debug}", file=sys.stderr)
            status["rc"] = 1
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        loop.run()
    finally:
        st = stats(sr)  # read before NULL: start() resets it
        pipeline.set_state(Gst.State.NULL)
        bus.remove_signal_watch()
    if status["rc"] == 0:
        b, a = final.get("before", {}), final.get("after", {})
        print(
            f"done: {st['frames']} frames in {time.monotonic() - t0:.1f} s; clip score before "
            f"{b.get('clip-score', -1):.3f}, after {a.get('clip-score', -1):.3f} "
            f"({a.get('frames-scored', 0)} frames scored); ntiresr mean {st['mean-ms']:.1f} ms, "
            f"max {st['max-ms']:.1f} ms, resets {st['resets']}"
        )
    return status["rc"]


if __name__ == "__main__":
    sys.exit(main())
