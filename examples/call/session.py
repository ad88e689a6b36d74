"""One browser's call: its own pipeline, from the camera it sends to the upscaled video it gets back.

    webrtcbin name=wb ! depay ! decode ! videorate ! video/x-raw,framerate=R/1
      ! queue name=inq (leaky) ! thqa name=before ! ntiresr name=sr ! thqa name=after ! proxysink
    proxysrc ! queue name=encq (leaky) ! encode ! pay ! wb.
    (one webrtcbin, one transceiver both ways; proxysink/proxysrc keep the graph free of loops)

The rate R adapts to what the server keeps up with (`Rate`): a frame the leaky queue lets go
leaves a timestamp gap, and ntiresr restarts its recurrent state at every gap, so a server that
drops every other frame of 30 would upscale every frame from scratch; at a steady 15 fps (the
gap is then one frame duration) the state carries over.

GStreamer calls back from its own threads; everything a session tells the page goes through
`loop.call_soon_threadsafe` into `outbox` (an asyncio.Queue the server drains into the websocket),
and the bus is read on the asyncio thread. A session that ends (the page left, ICE
failed, an error on the bus, no video for `IDLE_S`) sets its pipeline to NULL and says why; the
other sessions are not touched.
"""

import asyncio
import ctypes
import random
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

from .rate import Rate  # noqa: E402

IDLE_S = 10  # a call whose video stops for this long is ended
GAP_NS = 500_000_000  # videorate fills shorter gaps (a late packet) with the previous frame
LAT_KEEP = 256  # input timestamps kept for the latency probe

# The return encode at 1080p is the dearest step after ntiresr; presets chosen by measurement
# (README, "Live call in a browser").
ENCODERS = {
    "H264": (
        "x264enc name=enc speed-preset=ultrafast tune=zerolatency bitrate={kbps} key-int-max=250 threads={threads}"
        " ! video/x-h264,profile=constrained-baseline ! h264parse"
        " ! rtph264pay pt={pt} config-interval=-1 aggregate-mode=zero-latency"
        " ! application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload={pt}"
    ),
    "VP8": (
        "vp8enc name=enc deadline=1 cpu-used={vp8_speed} threads={threads} end-usage=cbr target-bitrate={bps}"
        " keyframe-max-dist=250 error-resilient=partitions"
        " ! rtpvp8pay pt={pt} picture-id-mode=15-bit"
        " ! application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload={pt}"
    ),
}
DEPAY = {
    "VP8": "rtpvp8depay name=depay request-keyframe=true wait-for-keyframe=false ! vp8dec",
    "H264": "rtph264depay name=depay request-keyframe=true wait-for-keyframe=false ! h264parse ! avdec_h264",
}


def _ice_agent(webrtcbin):
    """webrtcbin's GstWebRTCICE. PyGObject 3.42 takes no reference of its own for this property
    and drops one when the wrapper goes: take one for it, or the agent is freed under webrtcbin."""
    agent = webrtcbin.get_property("ice-agent")
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    g_object_ref = ctypes.CDLL("libgobject-2.0.so.0").g_object_ref
    g_object_ref.restype, g_object_ref.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    g_object_ref(get_pointer(agent.__gpointer__, None))
    return agent


def _size(pad):
    caps = pad.get_current_caps()
    if caps is None:
        return None
    s = caps.get_structure(0)
    return [s.get_value("width"), s.get_value("height")]


class Session:
    """A call; `start(offer)` answers it, `stop(reason)` ends it (idempotent)."""

    def __init__(
        self, sid, codec, loop, *, ice_address=None, n_threads=0, thqa_interval=4, kbps=4000, vp8_speed=16, loss=0.0
    ):
        self.sid, self.codec, self.loop, self.loss = sid, codec, loop, loss
        self.outbox = asyncio.Queue()
        self.ended = loop.create_future()  # the reason, once ended
        self.errors = []
        self.started = time.monotonic()
        # frames from the browser, past videorate, out of ntiresr, into the encoder; packets --loss dropped
        self._counts = {"received": 0, "admitted": 0, "upscaled": 0, "encoded": 0, "lost": 0}
        self.rate = Rate()
        self._keyframes = {"asked_by_browser": 0, "asked_of_browser": 0}  # GstForceKeyUnit upstream
        self._last = dict(self._counts, t=self.started)
        self._pts_in, self._lat = {}, []
        self._busy_in, self._busy = {}, []  # from thqa before's input to thqa after's output
        self._last_video = self.started
        self._sizes = (None, None)
        enc = ENCODERS[codec.name].format(pt=codec.pt, kbps=kbps, bps=kbps * 1000, threads=2, vp8_speed=vp8_speed)
        self.pipeline = Gst.parse_launch(
            "webrtcbin name=wb bundle-policy=max-bundle latency=100 "
            f"videorate name=rate max-duplication-time={GAP_NS} ! capsfilter name=ratecaps caps={self.rate.caps()} "
            "! queue name=inq leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0 "
            f"! thqa name=before interval={thqa_interval} message-interval=0 "
            f"! ntiresr name=sr n-threads={n_threads} "
            f"! thqa name=after interval={thqa_interval} message-interval=0 ! proxysink name=loopcut "
            "proxysrc name=sendsrc "
            "! queue name=encq leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0 "
            f"! {enc} ! wb."
        )
        # webrtcbin feeds itself: a linked loop would make GStreamer warn on every state change,
        # so the two halves meet through proxysink/proxysrc instead of a pad link.
        self.pipeline.get_by_name("sendsrc").set_property("proxysink", self.pipeline.get_by_name("loopcut"))
        self.pipeline.set_name(f"call-{sid}")
        get = self.pipeline.get_by_name
        self.wb, self.sr, self.before, self.after = get("wb"), get("sr"), get("before"), get("after")
        self._agent = _ice_agent(self.wb)
        if ice_address:
            addr = Nice.Address.new()
            if not addr.set_from_string(ice_address):
                raise ValueError(f"not an IP address for ICE: {ice_address}")
            self._agent.get_property("agent").add_local_address(addr)
        self.wb.connect("on-ice-candidate", self._on_ice_candidate)
        self.wb.connect("pad-added", self._on_pad_added)
        self.wb.connect("notify::ice-connection-state", self._on_ice_state)
        self._probe(get("rate").get_static_pad("sink"), lambda _b: self._count("received"))
        self._probe(get("inq").get_static_pad("sink"), self._on_admitted)
        self._probe(self.sr.get_static_pad("src"), self._on_upscaled)
        self._probe(self.before.get_static_pad("sink"), lambda b: self._stamp(self._busy_in, b))
        self._probe(self.after.get_static_pad("src"), lambda b: self._took(self._busy_in, self._busy, b))
        self._probe(get("encq").get_static_pad("src"), lambda _b: self._count("encoded"))
        self._count_keyframe_requests(get("enc").get_static_pad("src"), "asked_by_browser")
        self._bus_task = loop.create_task(self._watch_bus())

    # -- from any thread ------------------------------------------------------------------------

    def _post(self, fn, *args):
        self.loop.call_soon_threadsafe(fn, *args)

    def send(self, msg):
        """Queue a message for the page (any thread)."""
        self._post(self.outbox.put_nowait, msg)

    @staticmethod
    def _probe(pad, fn):
        def probe(_pad, info):
            fn(info.get_buffer())
            return Gst.PadProbeReturn.OK

        pad.add_probe(Gst.PadProbeType.BUFFER, probe)

    def _count_keyframe_requests(self, pad, what):
        def probe(_pad, info):
            s = info.get_event().get_structure()
            if s is not None and s.get_name() == "GstForceKeyUnit":
                self._keyframes[what] += 1
            return Gst.PadProbeReturn.OK

        pad.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, probe)

    def _count(self, what):
        self._counts[what] += 1

    @staticmethod
    def _stamp(stamps, buf):
        if len(stamps) > LAT_KEEP:
            stamps.clear()
        stamps[buf.pts] = time.monotonic()

    @staticmethod
    def _took(stamps, times, buf):
        t = stamps.pop(buf.pts, None)
        if t is not None:
            times.append(time.monotonic() - t)

    def _on_admitted(self, buf):
        self._count("admitted")
        self._last_video = time.monotonic()
        self._stamp(self._pts_in, buf)

    def _on_upscaled(self, buf):
        self._count("upscaled")
        self._took(self._pts_in, self._lat, buf)

    def _on_ice_candidate(self, _wb, mline, candidate):
        self.send({"type": "ice", "candidate": {"candidate": candidate, "sdpMLineIndex": mline}})

    def _on_ice_state(self, wb, _pspec):
        state = wb.get_property("ice-connection-state")
        self.send({"type": "ice-state", "state": state.value_nick})
        if state == GstWebRTC.WebRTCICEConnectionState.FAILED:
            self._post(self.stop, "ICE failed: no network path to the browser")

    def _on_pad_added(self, _wb, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        try:
            self._link_received(pad)
        except Exception as e:  # end this call, not the server
            self._post(self.stop, f"cannot receive the browser's video: {e}")

    def _link_received(self, pad):
        s = pad.get_current_caps().get_structure(0)
        name = s.get_string("encoding-name")
        if s.get_string("media") != "video" or name not in DEPAY:
            sink = Gst.ElementFactory.make("fakesink")
            self.pipeline.add(sink)
            sink.sync_state_with_parent()
            pad.link(sink.get_static_pad("sink"))
            self.send({"type": "note", "text": f"ignoring a {s.get_string('media')} {name} stream"})
            return
        dec = Gst.parse_bin_from_description(DEPAY[name], True)
        self._count_keyframe_requests(dec.get_by_name("depay").get_static_pad("sink"), "asked_of_browser")
        self.pipeline.add(dec)
        dec.sync_state_with_parent()
        pad.link(dec.get_static_pad("sink"))
        dec.link(self.pipeline.get_by_name("rate"))

    # -- on the asyncio thread ------------------------------------------------------------------

    async def _watch_bus(self):
        """Every bus message, popped 5 times a second (a bus sync handler in PyGObject 3.42 leaks
        the messages it drops, and with them their sources: the whole pipeline)."""
        bus = self.pipeline.get_bus()
        while not self.ended.done():
            while not self.ended.done() and (msg := bus.pop()) is not None:
                self._on_bus(msg)
            await asyncio.sleep(0.2)

    def _on_bus(self, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            text = f"{msg.src.get_name()}: {err.message}"
            self.errors.append(text)
            self.stop(f"error: {text}")
        elif msg.type == Gst.MessageType.WARNING:
            err, _ = msg.parse_warning()
            self.send({"type": "note", "text": f"warning from {msg.src.get_name()}: {err.message}"})
        elif msg.type == Gst.MessageType.EOS:
            self.stop("the stream ended")

    async def _promise(self, signal, *args):
        """Emit a webrtcbin action signal that takes a promise; its reply structure."""
        done = self.loop.create_future()
        promise = Gst.Promise.new_with_change_func(lambda p: self._post(done.set_result, p.get_reply()))
        self.wb.emit(signal, *args, promise)
        return await asyncio.wait_for(done, 10)

    async def start(self, offer_sdp):
        """Play the pipeline, take the offer, answer it: the answer's SDP text."""
        ok, msg = GstSdp.SDPMessage.new_from_text(offer_sdp)
        if ok != GstSdp.SDPResult.OK:
            raise ValueError("the offer's SDP does not parse")
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError("the pipeline did not start: " + "; ".join(self.errors or ["see the server log"]))
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, msg)
        await self._promise("set-remote-description", offer)
        if self.loss:
            self._lose_packets()
        reply = await self._promise("create-answer", None)
        answer = reply.get_value("answer") if reply is not None and reply.has_field("answer") else None
        if answer is None:
            err = reply.get_value("error") if reply is not None and reply.has_field("error") else None
            raise RuntimeError(f"webrtcbin made no answer ({err.message if err else 'no reason given'})")
        await self._promise("set-local-description", answer)
        # NACK: the jitter buffer asks the browser again for a lost packet. Set after the answer:
        # set before, webrtcbin also offers RTX for what it sends, with an SSRC group whose media
        # SSRC is still 0 (nothing sent yet), and Chrome then decodes the video but never shows it.
        for i in range(8):
            t = self.wb.emit("get-transceiver", i)
            if t is None:
                break
            t.set_property("do-nack", True)
        return answer.sdp.as_text()

    def _lose_packets(self):
        """--loss: packets dropped at random as they leave webrtcbin's nicesrc, as on the network
        (before decryption, the jitter buffer and NACK). netsim's drop-probability, as a pad probe:
        netsim itself cannot be linked into webrtcbin's transport bin while it runs."""
        it = self.pipeline.iterate_recurse()
        while True:
            res, e = it.next()
            if res == Gst.IteratorResult.RESYNC:
                it.resync()
                continue
            if res != Gst.IteratorResult.OK:
                break
            if e.get_factory() is not None and e.get_factory().get_name() == "nicesrc":
                e.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self._maybe_lose)

    def _maybe_lose(self, _pad, _info):
        if random.random() < self.loss:
            self._count("lost")
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def add_ice(self, candidate):
        """A candidate from the page ({candidate, sdpMLineIndex}); an empty one ends the list."""
        if self.ended.done() or not isinstance(candidate, dict) or not candidate.get("candidate"):
            return
        self.wb.emit("add-ice-candidate", int(candidate.get("sdpMLineIndex") or 0), str(candidate["candidate"]))

    def stats(self):
        """The figures of the last interval (called once a second): a dict for the page."""
        now = time.monotonic()
        dt = max(now - self._last["t"], 1e-3)
        counts = dict(self._counts)
        fps = {k: round((counts[k] - self._last[k]) / dt, 1) for k in counts}
        self._last = dict(counts, t=now)
        lat, self._lat = self._lat, []
        busy, self._busy = self._busy, []
        busy_ms = 1000 * sum(busy) / len(busy) if busy else None
        if self.rate.update(fps["received"], fps["admitted"], fps["upscaled"], busy_ms):
            self.pipeline.get_by_name("ratecaps").set_property("caps", Gst.Caps.from_string(self.rate.caps()))
        sr = self.sr.get_property("stats")
        sizes = (_size(self.sr.get_static_pad("sink")), _size(self.sr.get_static_pad("src")))
        if sizes != self._sizes and sizes[0] and sizes[1] and sizes[1] == [4 * v for v in sizes[0]]:
            if self._sizes[0]:
                self.send(
                    {
                        "type": "note",
                        "text": f"the camera went from {self._sizes[0][0]}x{self._sizes[0][1]} to "
                        f"{sizes[0][0]}x{sizes[0][1]}: ntiresr outputs 4x its input, so the video sent "
                        f"back is now {sizes[1][0]}x{sizes[1][1]}",
                    }
                )
            self._sizes = sizes
        if now - self._last_video > IDLE_S and now - self.started > IDLE_S:
            self._post(self.stop, f"no video from the browser for {IDLE_S} s")
        return {
            "type": "stats",
            "call": self.sid,
            "codec": self.codec.name,
            "seconds": round(now - self.started, 1),
            "size_in": sizes[0],
            "size_out": sizes[1],
            "fps": fps,
            "frames": counts,
            "rate": self.rate.fps,
            "busy_ms": round(busy_ms, 1) if busy_ms else None,
            "skipped": counts["admitted"] - counts["upscaled"],
            "keyframe_requests": dict(self._keyframes),
            "upscale_latency_ms": {
                "mean": round(1000 * sum(lat) / len(lat), 1) if lat else None,
                "max": round(1000 * max(lat), 1) if lat else None,
            },
            "before": self._scores(self.before),
            "after": self._scores(self.after),
            "ntiresr": {k: sr.get_value(k) for k in ("frames", "resets", "mean-ms", "max-ms", "failed", "dropped")},
        }

    @staticmethod
    def _scores(thqa):
        return {k: round(thqa.get_property(k), 3) for k in ("score", "ema-score", "clip-score")}

    def stop(self, reason):
        """End the call: the pipeline to NULL (on a worker thread), the reason to the page."""
        if self.ended.done():
            return
        self.ended.set_result(reason)
        self.outbox.put_nowait({"type": "ended", "reason": reason})
        self.loop.run_in_executor(None, self._teardown)

    def _teardown(self):
        """NULL, then let go of the GStreamer objects: the pad probes and signal handlers hold
        this session, so the pipeline is freed only once the session no longer holds it."""
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_bus().set_flushing(True)  # what is left on the bus holds its sources
        self._post(self._forget)

    def _forget(self):
        self.pipeline = self.wb = self.sr = self.before = self.after = self._agent = None
