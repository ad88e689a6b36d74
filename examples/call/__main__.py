"""python -m examples.call [--host H] [--port P] [--codec VP8|H264]: serve the call page."""

import argparse
import logging
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from . import sdp, server  # noqa: E402

NEEDED = ("webrtcbin", "nicesrc", "ntiresr", "thqa", "vp8enc", "vp8dec", "x264enc", "avdec_h264", "rtpvp8pay")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="scripts/call", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1", help="address to serve on, and ICE's (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--codec", choices=sdp.CODECS, default="H264", help="codec sent back, when offered (default H264)")
    ap.add_argument("--kbps", type=int, default=4000, help="bitrate of the video sent back (default 4000)")
    ap.add_argument("--n-threads", type=int, default=0, help="ntiresr n-threads (default 0: all cores)")
    ap.add_argument("--thqa-interval", type=int, default=4, help="thqa scores one frame in this many (default 4)")
    ap.add_argument(
        "--loss", type=float, default=0.0, help="drop this fraction of the packets received (netsim after ICE; a test)"
    )
    args = ap.parse_args(argv)
    if not 0 <= args.loss < 1:
        ap.error("--loss is a fraction, from 0 to below 1")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    Gst.init(None)
    missing = [f for f in NEEDED if Gst.ElementFactory.find(f) is None]
    if missing:
        ours = [f for f in missing if f in ("ntiresr", "thqa")]
        print(
            f"missing GStreamer elements: {', '.join(missing)} ("
            + ("build the plugin, cargo build --release, or set GST_PLUGIN_PATH to it" if ours else "")
            + ("; " if ours and len(ours) < len(missing) else "")
            + ("scripts/setup-debian installs the others" if len(ours) < len(missing) else "")
            + ")",
            file=sys.stderr,
        )
        return 2
    prefer = (args.codec, *[c for c in sdp.CODECS if c != args.codec])
    session_args = {
        "n_threads": args.n_threads,
        "thqa_interval": args.thqa_interval,
        "kbps": args.kbps,
        "loss": args.loss,
    }
    try:
        server.run(args.host, args.port, prefer=prefer, session_args=session_args)
    except OSError as e:
        print(f"cannot serve on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
