"""The call tested with a real browser: headless Chromium, its camera a talking-head clip.

    python -m examples.call.check [--seconds 20] [--min-fps 20] [--screenshot docs/call.png]

Starts the server (python -m examples.call) and chromium-driver on free ports of 127.0.0.1 and
asserts, from what the page measures (getStats, requestVideoFrameCallback) and what the server
reports (GET /calls):
- bad signalling gets an error message and the server goes on;
- the page receives the upscaled track at 4x the size it sends, decodes it at >= --min-fps
  over --seconds, and shows it (requestVideoFrameCallback);
- the thqa scores (before, after) and ntiresr's stats arrive;
- a second browser gets a call of its own (two pipelines, two sets of figures, both receiving),
  and when it leaves its call ends and the first goes on;
- the page asks its camera for 180p: the video sent back becomes 1280x720 and the server says why.
Prints one line with what it measured; exit status 0 when every assertion holds, 1 otherwise.

    python -m examples.call.check --soak 300 --loss 0.05     # by hand: a 5-minute call, 5 % loss
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from .webdriver import Browser, WebDriverError

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("NTIRESR_DATA", ROOT.parent / "shared" / "data"))
CLIP = "val/A03_maxine-nim_eyecontact_sample_streamable.mp4"  # 1280x720 30 fps, pillarboxed 960x720
STATE = "return JSON.parse(JSON.stringify(window.call || null))"


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clip(out, frames=150):
    """480x270 30 fps y4m from a val clip (its 960x540 middle: a head and shoulders), or a test
    pattern when the data is not there."""
    src = DATA / CLIP
    if src.exists():
        cmd = ["-i", str(src), "-vf", "crop=960:540:160:90,scale=480:270"]
    else:
        print(f"call check: {src} not found, the camera shows a test pattern", file=sys.stderr)
        cmd = ["-f", "lavfi", "-i", "testsrc2=size=480x270:rate=30"]
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", *cmd, "-r", "30", "-frames:v", str(frames), "-pix_fmt", "yuv420p",
         "-f", "yuv4mpegpipe", str(out)],
        check=True, timeout=120,
    )  # fmt: skip


def wait_for(what, fn, timeout, every=0.5):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise CheckFailed(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def http_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


async def bad_signalling(base):
    """Nonsense, an offer that is no SDP, and one without video: an error each, no crash."""
    replies = []
    async with aiohttp.ClientSession() as http:
        for msg in ("not json", json.dumps({"type": "offer", "sdp": "hello"})):
            async with http.ws_connect(f"{base.replace('http', 'ws')}/ws") as ws:
                await ws.send_str(msg)
                replies.append(json.loads((await ws.receive(timeout=10)).data))
    return replies


def chromium_args(clip):
    return [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}", "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required", "--window-size=1280,680",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-background-networking", "--disable-component-update",
    ]  # fmt: skip


def run(args, tmp):
    t0 = time.monotonic()
    clip = tmp / "camera.y4m"
    make_clip(clip)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    port, dport = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    procs = []
    server_log = open(tmp / "server.log", "w")
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "examples.call", "--port", str(port), "--loss", str(args.loss)],
            cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
        )
    )  # fmt: skip
    init = [shutil.which("tini"), "-s", "--"] if shutil.which("tini") else []  # reaps Chromium's children
    procs.append(
        subprocess.Popen(
            [*init, "chromedriver", f"--port={dport}"],
            # CI's G_DEBUG=fatal_warnings is for our GStreamer code, not for Chromium's use of GLib
            env={k: v for k, v in os.environ.items() if k != "G_DEBUG"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    browsers = []
    try:

        def up(url):
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return True
            except OSError:
                check(all(p.poll() is None for p in procs), "the server or chromium-driver exited at start")
                return False

        wait_for("the server", lambda: up(base + "/calls"), 30)
        wait_for("chromium-driver", lambda: up(f"http://127.0.0.1:{dport}/status"), 30)

        replies = asyncio.run(bad_signalling(base))
        check(all(r.get("type") == "error" for r in replies), f"bad signalling was not answered with errors: {replies}")
        check(procs[0].poll() is None, "the server died on bad signalling")

        one = Browser(f"http://127.0.0.1:{dport}", chromium_args(clip))
        browsers.append(one)
        one.get(base + "/")
        s = wait_for("the upscaled video in the page", lambda: _receiving(one), 45)
        if args.soak:
            return soak(args, one, procs[0], tmp, t0)
        # One call, --seconds long: what the page decodes, what the server says.
        time.sleep(2)  # past the first keyframe and the jitter buffers' start
        a = one.js(STATE)
        t_a = time.monotonic()
        samples = []
        while time.monotonic() - t_a < args.seconds:
            time.sleep(1)
            samples.append(one.js(STATE))
        b = samples[-1]
        secs = time.monotonic() - t_a
        fps = (b["framesDecoded"] - a["framesDecoded"]) / secs
        rvfc = (b["rvfcFrames"] - a["rvfcFrames"]) / secs
        sent, received = b["sent"], b["received"]
        check(not b["errors"], f"the page reports errors: {b['errors']}")
        check(sent and received, f"no sizes: sent {sent}, received {received}")
        wrong = [(x["sent"], x["received"]) for x in samples if x["received"] != [4 * v for v in x["sent"] or ()]]
        check(
            len(wrong) <= 2,  # a size change takes a second or two to come round
            f"the video received is not 4x the video sent in {len(wrong)} of {len(samples)} samples: {wrong[:5]}",
        )
        srv = b["server"]
        check(srv is not None, "no figures from the server")
        for side in ("before", "after"):
            check(srv[side]["score"] >= 0 and srv[side]["ema-score"] >= 0, f"no thqa {side} score: {srv[side]}")
        check(srv["ntiresr"]["frames"] > 0 and srv["ntiresr"]["mean-ms"] > 0, f"no ntiresr stats: {srv['ntiresr']}")
        lat = [x["server"]["upscale_latency_ms"]["mean"] for x in samples if x["server"]]
        lat = [v for v in lat if v is not None]
        mean_lat = sum(lat) / len(lat) if lat else float("nan")
        one.screenshot(args.screenshot or tmp / "call.png")
        check(rvfc >= 0.5 * fps, f"the page decodes {fps:.1f} fps but shows {rvfc:.1f} (requestVideoFrameCallback)")
        check(
            fps >= args.min_fps,
            f"the upscaled video decodes at {fps:.1f} fps, below {args.min_fps} (the server upscaled at "
            f"{srv['rate']} fps, ntiresr {srv['ntiresr']['mean-ms']:.0f} ms/frame; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: a busy machine cannot keep up)",
        )

        # A second browser: a call of its own, both go on.
        two = Browser(f"http://127.0.0.1:{dport}", chromium_args(clip))
        browsers.append(two)
        two.get(base + "/")
        wait_for("the second browser's video", lambda: _receiving(two), 45)
        f1, f2 = one.js(STATE)["framesDecoded"], two.js(STATE)["framesDecoded"]
        t_b = time.monotonic()
        time.sleep(8)
        calls = http_json(base + "/calls")["calls"]
        s1, s2 = one.js(STATE), two.js(STATE)
        secs = time.monotonic() - t_b
        fps1, fps2 = (s1["framesDecoded"] - f1) / secs, (s2["framesDecoded"] - f2) / secs
        check(len(calls) == 2, f"the server reports {len(calls)} calls, not 2")
        check(
            len({c["call"] for c in calls}) == 2 and all(c["frames"]["upscaled"] > 0 for c in calls),
            f"two calls: not two pipelines upscaling: {[(c['call'], c['frames']) for c in calls]}",
        )
        check(s1["server"]["call"] != s2["server"]["call"], "both pages got the figures of the same call")
        check(fps1 > 1 and fps2 > 1, f"two calls: not both receiving ({fps1:.1f} and {fps2:.1f} fps)")
        check(not s1["errors"] and not s2["errors"], f"errors: {s1['errors']} {s2['errors']}")
        check(procs[0].poll() is None, "the server died")

        # The second leaves: its call ends, the first goes on.
        browsers.remove(two)
        two.quit()
        wait_for("the second call to end", lambda: len(http_json(base + "/calls")["calls"]) == 1, 20)
        f1 = one.js(STATE)["framesDecoded"]
        time.sleep(3)
        after = one.js(STATE)
        check(after["framesDecoded"] > f1 + 10, "the first call stopped when the second browser left")
        check(after["ended"] is None, f"the first call ended: {after['ended']}")
        # The page asks the camera for 180p: the video sent back follows, at 4x.
        one.js("document.querySelector('button[data-h=\"180\"]').click()")

        def at_180p():
            st = one.js(STATE)
            return st if st["sent"] == [320, 180] and st["received"] == [1280, 720] else None

        wait_for("1280x720 back after asking the camera for 180p", at_180p, 30)

        # The page's notes come with the server's figures, once a second: wait for them too.
        def noted():
            st = one.js(STATE)
            return st if any("320x180" in n for n in st["notes"]) else None

        try:
            switched = wait_for("the server's note that the size changed", noted, 15)
        except CheckFailed:
            check(False, f"the server did not say the size changed: {one.js(STATE)['notes']}")
        check(not switched["errors"], f"the page reports errors: {switched['errors']}")
        log = (tmp / "server.log").read_text()
        check("Traceback" not in log, f"the server logged a traceback:\n{log[-3000:]}")
        print(
            f"call check passed: {sent[0]}x{sent[1]} sent, {received[0]}x{received[1]} received "
            f"({s['codec']}), {fps:.1f} fps decoded over {args.seconds} s (rVFC {rvfc:.1f}), "
            f"upscale latency {mean_lat:.0f} ms, thqa {srv['before']['ema-score']:.2f} -> "
            f"{srv['after']['ema-score']:.2f}, ntiresr {srv['ntiresr']['mean-ms']:.1f} ms/frame, "
            f"{srv['ntiresr']['resets']} resets in {srv['ntiresr']['frames']} frames, rate {srv['rate']} fps; "
            f"two calls {fps1:.1f} + {fps2:.1f} fps; the one that left ended alone; 180p asked, 1280x720 back; "
            f"{time.monotonic() - t0:.0f} s"
        )
    finally:
        for br in browsers:
            br.quit()
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        server_log.close()


def soak(args, page, server, tmp, t0):
    """--soak: one call for that many seconds; no error on the page or the bus, video all along."""
    rates, last, t_last = [], page.js(STATE), time.monotonic()
    while time.monotonic() - t0 < args.soak:
        time.sleep(10)
        st, now = page.js(STATE), time.monotonic()
        rates.append((st["framesDecoded"] - last["framesDecoded"]) / (now - t_last))
        last, t_last = st, now
        check(not st["errors"] and st["ended"] is None, f"after {now - t0:.0f} s: {st['errors']} {st['ended']}")
        check(server.poll() is None, "the server died")
    log = (tmp / "server.log").read_text()
    check("Traceback" not in log and "(error:" not in log, f"errors in the server log:\n{log[-3000:]}")
    srv = last["server"]
    print(
        f"call soak passed: {time.monotonic() - t0:.0f} s, loss {args.loss:.0%} ({srv['frames']['lost']} packets "
        f"dropped), no error; decoded fps per 10 s min {min(rates):.1f} mean {sum(rates) / len(rates):.1f}; "
        f"keyframes asked of the browser {srv['keyframe_requests']['asked_of_browser']}, by it "
        f"{srv['keyframe_requests']['asked_by_browser']}; ntiresr {srv['ntiresr']['frames']} frames, "
        f"{srv['ntiresr']['resets']} resets, {srv['ntiresr']['mean-ms']:.1f} ms/frame; thqa "
        f"{srv['before']['ema-score']:.2f} -> {srv['after']['ema-score']:.2f}"
    )


def _receiving(browser):
    s = browser.js(STATE)
    if s and s["errors"]:
        raise CheckFailed(f"the page reports: {s['errors']}")
    if s and s["ended"]:
        raise CheckFailed(f"the call ended: {s['ended']}")
    return s if s and s["received"] and s["framesDecoded"] > 10 else None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="scripts/call --check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=20, help="how long the frame rate is measured (default 20)")
    ap.add_argument("--min-fps", type=float, default=20.0, help="lowest decoded frame rate that passes (default 20)")
    ap.add_argument("--screenshot", type=Path, help="where to save the page (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (clip, server log, screenshot)")
    ap.add_argument("--loss", type=float, default=0.0, help="the server drops this fraction of the packets it receives")
    ap.add_argument("--soak", type=int, help="instead: one call for this many seconds, no error all along (by hand)")
    args = ap.parse_args(argv)
    for tool in ("ffmpeg", "chromedriver", "chromium"):
        if not shutil.which(tool):
            print(f"call check: {tool} not found (scripts/setup-debian installs it)", file=sys.stderr)
            return 2
    tmp = Path(tempfile.mkdtemp(prefix="call-check-"))
    try:
        run(args, tmp)
        return 0
    except (CheckFailed, WebDriverError, OSError, subprocess.SubprocessError) as e:
        log = tmp / "server.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        print(f"call check FAILED: {e}\n--- server log (end) ---\n{tail}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"call check: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
