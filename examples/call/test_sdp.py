"""examples.call.sdp: which codec answers an offer, and the errors the page gets for bad offers."""

import pytest

from examples.call import sdp

# The video section of a Chromium 156 offer, cut short (RTX, RED, ULPFEC and H.265 dropped).
CHROME = "\r\n".join(
    [
        "v=0",
        "o=- 1 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 102 103 39 45",
        "a=rtpmap:96 VP8/90000",
        "a=rtpmap:102 H264/90000",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
        "a=rtpmap:103 H264/90000",
        "a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f",
        "a=rtpmap:39 H264/90000",
        "a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
        "a=rtpmap:45 AV1/90000",
        "",
    ]
)


def test_offered_in_order():
    assert [(c.name, c.pt) for c in sdp.offered(CHROME)] == [
        ("VP8", 96),
        ("H264", 102),
        ("H264", 103),
        ("H264", 39),
        ("AV1", 45),
    ]


def test_choose_h264_baseline_mode_1():
    c = sdp.choose(CHROME, ("H264", "VP8"))
    assert (c.name, c.pt, c.fmtp["profile-level-id"]) == ("H264", 102, "42001f")


def test_choose_vp8_first():
    assert sdp.choose(CHROME, ("VP8", "H264")).pt == 96


def test_falls_back_to_what_is_offered():
    only_vp8 = CHROME.replace("96 102 103 39 45", "96")
    assert sdp.choose(only_vp8, ("H264", "VP8")).name == "VP8"


@pytest.mark.parametrize(
    "offer, says",
    [
        ("hello", "not an SDP offer"),
        (None, "not an SDP offer"),
        ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "no video"),
        (CHROME.replace("96 102 103 39 45", "45"), "it offers AV1"),
    ],
)
def test_bad_offers_say_why(offer, says):
    with pytest.raises(sdp.OfferError, match=says):
        sdp.choose(offer)
