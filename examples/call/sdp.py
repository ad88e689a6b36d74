"""Which codec, payload type and H.264 profile to answer a browser's offer with (plain SDP text)."""

import re
from dataclasses import dataclass

# What the server can send back, in order of preference (--codec puts one first).
CODECS = ("VP8", "H264")


class OfferError(ValueError):
    """An offer the server cannot answer; the message says why (it goes back to the page)."""


@dataclass(frozen=True)
class Codec:
    name: str  # VP8 or H264
    pt: int  # payload type as offered
    fmtp: dict  # the offered fmtp parameters (H.264: profile-level-id, packetization-mode)


def _video_section(sdp):
    lines = sdp.replace("\r\n", "\n").split("\n")
    start = next((i for i, l in enumerate(lines) if l.startswith("m=video ")), None)
    if start is None:
        raise OfferError("the offer has no video (no m=video line): the page must send its camera")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("m=")), len(lines))
    return lines[start:end]


def offered(sdp):
    """Every video codec of the offer's first video section, in its order: [Codec]."""
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise OfferError("not an SDP offer (it must start with v=0)")
    section = _video_section(sdp)
    names, fmtps = {}, {}
    for l in section:
        if m := re.match(r"a=rtpmap:(\d+) ([\w-]+)/", l):
            names[int(m[1])] = m[2].upper()
        elif m := re.match(r"a=fmtp:(\d+) (.*)", l):
            fmtps[int(m[1])] = dict(kv.split("=", 1) for kv in m[2].split(";") if "=" in kv)
    order = [int(p) for p in section[0].split()[3:] if p.isdigit()]
    return [Codec(names[p], p, fmtps.get(p, {})) for p in order if p in names]


def choose(sdp, prefer=CODECS):
    """The codec to answer with: the first of `prefer` the offer has (H.264: packetization-mode 1,
    constrained baseline, the profile x264enc's baseline output decodes as)."""
    codecs = offered(sdp)
    for want in prefer:
        for c in codecs:
            if c.name != want:
                continue
            if want == "H264" and (
                c.fmtp.get("packetization-mode") != "1" or not c.fmtp.get("profile-level-id", "").startswith("42")
            ):
                continue
            return c
    have = ", ".join(sorted({c.name for c in codecs})) or "none"
    raise OfferError(f"the offer has none of the codecs this server sends ({', '.join(prefer)}); it offers {have}")
