"""The web server: the page (GET /), its signalling (GET /ws, one websocket per call) and the
figures of every call (GET /calls, JSON), on aiohttp. One `Session` per websocket.

Signalling, JSON text frames:
    page -> server  {"type": "offer", "sdp": ...}    {"type": "ice", "candidate": {candidate, sdpMLineIndex}}
    server -> page  {"type": "answer", "sdp": ...}   {"type": "ice", ...}   {"type": "stats", ...} every second
                    {"type": "note", "text": ...}    {"type": "error", "text": ...}   {"type": "ended", "reason": ...}
A message the server cannot use is answered with an "error" and the call (if any) goes on.
"""

import asyncio
import itertools
import json
import logging
import socket
import time
from pathlib import Path

from aiohttp import WSMsgType, web
from gi.repository import GLib

from . import sdp
from .session import Session

PAGE = Path(__file__).with_name("page.html")
log = logging.getLogger("call")


class Server:
    def __init__(self, *, ice_address=None, prefer=sdp.CODECS, session_args=None, log_every=5):
        self.ice_address, self.prefer = ice_address, prefer
        self.session_args = session_args or {}
        self.log_every = log_every
        self.calls = {}  # sid -> Session
        self.last = {}  # sid -> latest stats
        self.ids = itertools.count(1)

    def app(self):
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_get("/ws", self.signalling)
        app.router.add_get("/calls", self.figures)
        app.on_startup.append(self._start_ticker)
        app.on_shutdown.append(self._shutdown)
        return app

    async def page(self, _request):
        return web.FileResponse(PAGE, headers={"Cache-Control": "no-store"})

    async def figures(self, _request):
        return web.json_response({"calls": list(self.last.values())})

    async def _start_ticker(self, app):
        app["ticker"] = asyncio.create_task(self._tick())

    async def _shutdown(self, app):
        app["ticker"].cancel()
        for s in list(self.calls.values()):
            s.stop("the server is shutting down")
        await asyncio.sleep(0.5)

    async def _tick(self):
        """Every second: each call's figures to its page; every `log_every` s, a line per call."""
        n = 0
        while True:
            await asyncio.sleep(1)
            n += 1
            for sid, s in list(self.calls.items()):
                if s.ended.done():
                    continue
                try:
                    st = s.stats()
                    self.last[sid] = st
                    s.send(st)
                    if n % self.log_every == 0:
                        log.info(
                            "call %s: %s -> %s, fps in %s out %s, ntiresr %s ms, latency %s ms, thqa %s -> %s",
                            sid, st["size_in"], st["size_out"], st["fps"]["received"], st["fps"]["upscaled"],
                            st["ntiresr"]["mean-ms"], st["upscale_latency_ms"]["mean"],
                            st["before"]["ema-score"], st["after"]["ema-score"],
                        )  # fmt: skip
                except Exception as e:  # a figure that cannot be read must not end the server
                    log.warning("call %s: stats: %s", sid, e)

    async def signalling(self, request):
        ws = web.WebSocketResponse(heartbeat=10)
        await ws.prepare(request)
        sid = next(self.ids)
        session, pump = None, None
        log.info("call %s: page connected from %s", sid, request.remote)
        try:
            async for m in ws:
                if m.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(m.data)
                    kind = data["type"]
                except (ValueError, TypeError, KeyError):
                    await ws.send_json({"type": "error", "text": "not a signalling message (JSON with a type)"})
                    continue
                if kind == "offer" and session is None:
                    try:
                        codec = sdp.choose(data.get("sdp"), self.prefer)
                        session = Session(
                            sid, codec, asyncio.get_running_loop(), ice_address=self.ice_address, **self.session_args
                        )
                        self.calls[sid] = session
                        pump = asyncio.create_task(self._pump(ws, session))
                        answer = await session.start(data["sdp"])
                    except Exception as e:  # the call is refused, the server goes on
                        if isinstance(e, (ValueError, RuntimeError, asyncio.TimeoutError, GLib.Error)):
                            log.warning("call %s: refused: %s", sid, e)
                        else:
                            log.exception("call %s: refused", sid)
                        await ws.send_json({"type": "error", "text": f"call refused: {e}"})
                        if session is not None:
                            session.stop(f"call refused: {e}")
                        break
                    log.info("call %s: answered with %s (payload type %d)", sid, codec.name, codec.pt)
                    await ws.send_json({"type": "answer", "sdp": answer})
                elif kind == "ice" and session is not None:
                    session.add_ice(data.get("candidate"))
                else:
                    await ws.send_json({"type": "error", "text": f"unexpected message {kind!r} here"})
        finally:
            if session is not None:
                session.stop("the page left")
                self.calls.pop(sid, None)
                self.last.pop(sid, None)
                reason = await session.ended
                log.info("call %s: ended (%s)%s", sid, reason, f"; errors: {session.errors}" if session.errors else "")
            if pump is not None:
                await asyncio.sleep(0.2)
                pump.cancel()
        return ws

    @staticmethod
    async def _pump(ws, session):
        """The session's messages to its page, in order; closes the websocket after "ended"."""
        while True:
            msg = await session.outbox.get()
            if ws.closed:
                return
            await ws.send_json(msg)
            if msg["type"] == "ended":
                await ws.close()
                return


def run(host, port, **kwargs):
    """Serve until interrupted; OSError when the address cannot be had (bound here, so that it
    says so before aiohttp starts)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    server = Server(ice_address=host if host not in ("0.0.0.0", "::", "") else None, **kwargs)
    started = time.strftime("%H:%M:%S")
    print(f"[{started}] serving http://{host}:{sock.getsockname()[1]}/ (Ctrl-C ends)", flush=True)
    web.run_app(server.app(), sock=sock, print=None)
