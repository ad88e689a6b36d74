"""The Dask task: one input file through one GStreamer pipeline, run through PyGObject.

    filesrc ! decodebin ! queue ! videoconvert ! thqa name=before ! ntiresr ! thqa name=after
      ! queue ! x264enc ! mp4mux ! filesink          (+ the first audio stream, re-encoded to AAC)

`upscale_file(job)` returns the file's manifest record. What goes wrong with the file (no such
element, a corrupt input, a stalled pipeline) is an `error` record, not an exception: Dask's
`retries` are for the unexpected (an exception raised here), and a worker that dies is the
scheduler's business (`distributed.scheduler.allowed-failures`).

This module imports only the standard library, gi and distributed: the client pickles it by value
(`cloudpickle.register_pickle_by_value`), so that a cluster's workers need not have this
repository, only Python with Dask and gi, and the plugin on GST_PLUGIN_PATH.
"""

import json
import os
import socket
import time
from datetime import datetime, timezone

# Test hook: a worker that dies mid-file. When this variable names a folder holding a file named
# as the input's basename, the worker process exits abruptly after the first frame reaches the
# encoder, leaving a partial output behind, as many times as that file says (1 when empty),
# counting down (batch/test_batch.py: the file is run again on a worker, or recorded as an error).
CRASH_ENV = "NTIRESR_BATCH_TEST_CRASH_DIR"


class _Failed(Exception):
    """What goes into an `error` record."""


def _gst():
    try:
        import gi
    except ImportError as e:
        raise _Failed(f"no PyGObject on {socket.gethostname()}: {e}") from e

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    if not Gst.is_initialized():
        Gst.init(None)
    return Gst


def _this_worker():
    """(address, task slots) of the Dask worker running this, or (None, 1) outside Dask."""
    try:
        from distributed import get_worker

        w = get_worker()
    except (ImportError, ValueError):
        return None, 1
    state = getattr(w, "state", None)  # Worker.state.nthreads since 2022.11; Worker.nthreads before
    return w.address, int(state.nthreads if state is not None else w.nthreads)


def probe(x264=""):
    """Run on every worker by the client (`client.run`) before it submits: where the worker runs,
    the cores it may use, its task slots, whether it can make the elements, and the x264enc
    properties among `x264` (gst-launch style) that its x264enc does not have."""
    missing, unknown = [], []
    try:
        Gst = _gst()
        version = Gst.version_string()
        for f in ("ntiresr", "thqa", "decodebin", "videoconvert", "x264enc", "mp4mux"):
            if Gst.ElementFactory.find(f) is None:
                missing.append(f)
        enc = Gst.ElementFactory.make("x264enc", None)
        if enc is not None:
            unknown = [k for k, _, _ in (o.partition("=") for o in x264.split()) if enc.find_property(k) is None]
    except (_Failed, ValueError) as e:
        version = f"no gi: {e}"
        missing.append("gi")
    _, slots = _this_worker()
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cores": core_set(),
        "slots": slots,
        "gstreamer": version,
        "missing": missing,
        "unknown_x264": unknown,
    }


def core_set():
    """ "host/0-7": the host and the cores this process may run on (its CPU affinity)."""
    cpus = sorted(os.sched_getaffinity(0))
    ranges, start = [], cpus[0]
    for a, b in zip(cpus, cpus[1:] + [None]):
        if b != a + 1:
            ranges.append(f"{start}-{a}" if a != start else f"{a}")
            start = b
    return f"{socket.gethostname()}/{','.join(ranges)}"


def pipeline_threads(job):
    """n-threads for this pipeline: the job's fixed value, else what the client planned for the
    workers on this process's cores (those cores divided among all their task slots; a worker
    restarted after a crash finds its cores in the plan too), else, for a worker on cores that
    joined after the client planned, those cores divided among its own task slots."""
    if job.get("n_threads"):
        return int(job["n_threads"])
    planned = (job.get("threads_by_cores") or {}).get(core_set())
    if planned:
        return int(planned)
    _, slots = _this_worker()
    return max(1, len(os.sched_getaffinity(0)) // max(1, slots))


def _make(Gst, factory, name=None, **props):
    e = Gst.ElementFactory.make(factory, name)
    if e is None:
        hint = " (is the plugin on GST_PLUGIN_PATH?)" if factory in ("ntiresr", "thqa") else ""
        raise _Failed(f"no GStreamer element '{factory}' on {socket.gethostname()}{hint}")
    for k, v in props.items():
        e.set_property(k.replace("_", "-"), v)
    return e


def _set_options(Gst, element, options):
    """Properties given as a gst-launch style string: "speed-preset=veryfast pass=qual"."""
    for item in options.split():
        key, _, value = item.partition("=")
        if element.find_property(key) is None:
            raise _Failed(f"{element.get_factory().get_name()} has no property '{key}'")
        Gst.util_set_object_arg(element, key, value)


def _structure_dict(s):
    return {s.nth_field_name(i): s.get_value(s.nth_field_name(i)) for i in range(s.n_fields())}


def _link_many(*elements):
    for a, b in zip(elements, elements[1:]):
        if not a.link(b):
            raise _Failed(f"cannot link {a.get_name()} to {b.get_name()}")


class _Run:
    """One file's pipeline and what is counted while it plays."""

    def __init__(self, Gst, job, tmp, n_threads):
        self.Gst = Gst
        self.job = job
        self.frames_in = 0
        self.frames_out = 0
        self.size_in = None
        self.size_out = None
        self.audio = False
        self.no_video = False
        self.final = {}  # thqa element name -> its final message's fields

        p = self.pipeline = Gst.Pipeline.new("batch")
        src = _make(Gst, "filesrc", location=job["input"])
        dec = self.dec = _make(Gst, "decodebin")
        self.vqueue = _make(Gst, "queue")
        conv = _make(Gst, "videoconvert")
        self.before = _make(Gst, "thqa", "before", message_interval=0)
        self.sr = _make(Gst, "ntiresr", "sr", n_threads=n_threads)
        if job.get("model"):
            self.sr.set_property("model-location", job["model"])
        if job.get("preset"):
            Gst.util_set_object_arg(self.sr, "preset", job["preset"])
        self.after = _make(Gst, "thqa", "after", message_interval=0)
        equeue = _make(Gst, "queue", max_size_buffers=4, max_size_bytes=0, max_size_time=0)
        enc = _make(Gst, "x264enc", threads=n_threads)
        _set_options(Gst, enc, job.get("x264", ""))
        self.mux = _make(Gst, "mp4mux")
        sink = _make(Gst, "filesink", location=tmp)
        for e in (src, dec, self.vqueue, conv, self.before, self.sr, self.after, equeue, enc, self.mux, sink):
            p.add(e)
        _link_many(src, dec)
        _link_many(self.vqueue, conv, self.before, self.sr, self.after, equeue, enc, self.mux, sink)

        self.before.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self._count, "in")
        enc.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self._count, "out")
        dec.connect("pad-added", self._pad_added)
        dec.connect("no-more-pads", self._no_more_pads)
        # The decoder keeps its own thread count: decoding 270p is cheap next to ntiresr and x264.
        # (Setting avdec's max-threads from a Python deep-element-added handler made decodebin lose
        # the error of a corrupt file when the demuxer's plugin was loaded in that very run.)

    def _count(self, pad, info, which):
        if which == "in":
            self.frames_in += 1
            if self.size_in is None:
                self.size_in = _caps_size(pad)
        else:
            self.frames_out += 1
            if self.size_out is None:
                self.size_out = _caps_size(pad)
        return self.Gst.PadProbeReturn.OK

    def _pad_added(self, _dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        kind = caps.get_structure(0).get_name() if caps.get_size() else ""
        if kind == "video/x-raw" and not self.vqueue.get_static_pad("sink").is_linked():
            pad.link(self.vqueue.get_static_pad("sink"))
        elif kind == "audio/x-raw" and self.job.get("audio", True) and not self.audio:
            self._add_audio(pad)

    def _add_audio(self, pad):
        Gst = self.Gst
        if Gst.ElementFactory.find("avenc_aac") is None:
            return  # no AAC encoder (gstreamer1.0-libav): the output has no sound
        chain = [
            _make(Gst, "queue"),
            _make(Gst, "audioconvert"),
            _make(Gst, "audioresample"),
            _make(Gst, "avenc_aac"),
            # compressed audio waits here for the (much slower) video at the muxer
            _make(Gst, "queue", max_size_buffers=0, max_size_bytes=0, max_size_time=0),
        ]
        for e in chain:
            self.pipeline.add(e)
        _link_many(*chain, self.mux)
        for e in chain:
            e.sync_state_with_parent()
        pad.link(chain[0].get_static_pad("sink"))
        self.audio = True

    def _no_more_pads(self, _dec):
        if not self.vqueue.get_static_pad("sink").is_linked():
            self.no_video = True

    def play(self, stall_timeout, crash_marker):
        """Plays to EOS; raises _Failed on an error message, no video or no progress."""
        Gst = self.Gst
        bus = self.pipeline.get_bus()
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            raise _Failed(_error_text(msg) if msg else "the pipeline would not start")
        last, last_change = -1, time.monotonic()
        types = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT
        while True:
            msg = bus.timed_pop_filtered(200 * Gst.MSECOND, types)
            if crash_marker and self.frames_out >= 1:
                _crash(crash_marker)
            if msg is None:
                if self.no_video:
                    raise _Failed("no video stream in the input")
                if self.frames_in == 0:
                    self._check_demuxer()
                progress = self.frames_in + self.frames_out
                if progress != last:
                    last, last_change = progress, time.monotonic()
                elif stall_timeout and time.monotonic() - last_change > stall_timeout:
                    raise _Failed(f"no progress for {stall_timeout:g} s (after {self.frames_in} frames)")
                continue
            if msg.type == Gst.MessageType.EOS:
                return
            if msg.type == Gst.MessageType.ERROR:
                raise _Failed(_error_text(msg))
            s = msg.get_structure()
            if s is not None and s.get_name() == "thqa" and s.get_value("final"):
                self.final[msg.src.get_name()] = _structure_dict(s)

    def _check_demuxer(self):
        """Raises _Failed when, before the first frame, an element in decodebin has stopped its
        task without making a pad: a demuxer that gave up on the file. GStreamer 1.22's decodebin
        drops the error such a demuxer posts while decodebin is still setting it up (qtdemux on an
        MP4 cut short, with no moov, most of the time after another container was played in the
        same process), and the pipeline would wait forever."""
        Gst = self.Gst
        for e in _items(Gst, self.dec.iterate_recurse()):
            if _items(Gst, e.iterate_src_pads()):
                continue
            if any(p.get_task_state() == Gst.TaskState.PAUSED for p in _items(Gst, e.iterate_sink_pads())):
                raise _Failed(f"{e.get_name()} stopped before finding a stream: the file is cut short or corrupt")

    def results(self):
        return {
            "stats": _structure_dict(self.sr.get_property("stats")),
            "clip_score_before": _score(self.before, self.final.get("before")),
            "clip_score_after": _score(self.after, self.final.get("after")),
        }

    def stop(self):
        self.pipeline.set_state(self.Gst.State.NULL)


def _crash(marker):
    with open(marker) as f:
        left = int(f.read().strip() or 1)
    if left > 1:
        with open(marker, "w") as f:
            f.write(f"{left - 1}\n")
    else:
        os.unlink(marker)
    os._exit(86)


def _items(Gst, it):
    """The elements of a Gst.Iterator (PyGObject without gst-python's overrides)."""
    out = []
    while True:
        r, v = it.next()
        if r == Gst.IteratorResult.OK:
            out.append(v)
        elif r == Gst.IteratorResult.RESYNC:
            it.resync()
            out = []
        else:
            return out


def _caps_size(pad):
    caps = pad.get_current_caps()
    if caps is None or not caps.get_size():
        return None
    s = caps.get_structure(0)
    return [s.get_value("width"), s.get_value("height")]


def _score(element, final):
    score = final["clip-score"] if final else element.get_property("clip-score")
    return None if score is None or score < 0 else round(float(score), 4)


def _error_text(msg):
    err, debug = msg.parse_error()
    text = f"{msg.src.get_path_string() if msg.src else '?'}: {err.message}"
    if debug:
        text += f" ({debug.splitlines()[-1].strip()})"
    return text[:1000]


def upscale_file(job):
    """The task: job["input"] to job["output"] (written as a hidden temporary beside it, renamed when
    complete). Returns the manifest record."""
    started = time.monotonic()
    address, _ = _this_worker()
    rec = {
        "input": job["input"],
        "output": job["output"],
        "status": "error",
        "error": None,
        "frames_in": 0,
        "frames_out": 0,
        "seconds": None,
        "worker": {"host": socket.gethostname(), "pid": os.getpid(), "address": address},
        "model": job.get("model") or f"embedded {job.get('preset') or 'fidelity'}",
        "n_threads": None,
        "size_in": None,
        "size_out": None,
        "audio": False,
        "stats": None,
        "clip_score_before": None,
        "clip_score_after": None,
    }
    out_dir, name = os.path.split(job["output"])
    tmp = os.path.join(out_dir, f".{name}.{socket.gethostname()}-{os.getpid()}.part")
    crash_dir = os.environ.get(CRASH_ENV)
    crash_marker = os.path.join(crash_dir, os.path.basename(job["input"])) if crash_dir else None
    run = None
    try:
        os.makedirs(out_dir, exist_ok=True)
        rec["n_threads"] = n_threads = pipeline_threads(job)
        run = _Run(_gst(), job, tmp, n_threads)
        try:
            run.play(job.get("stall_timeout"), crash_marker if crash_marker and os.path.exists(crash_marker) else None)
            rec.update(run.results())
        finally:
            rec.update(
                frames_in=run.frames_in,
                frames_out=run.frames_out,
                size_in=run.size_in,
                size_out=run.size_out,
                audio=run.audio,
            )
            run.stop()
        if run.frames_in == 0:
            raise _Failed("no video frame decoded")
        if run.frames_out != run.frames_in:
            raise _Failed(f"{run.frames_in} frames in, {run.frames_out} out")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        # The record goes beside the output before the output appears: a file that completes while
        # the client is going away (interrupted) is still recorded with its figures.
        done = dict(rec, status="ok", seconds=round(time.monotonic() - started, 3), finished=_now())
        write_record(record_path(job["output"]), done)
        os.replace(tmp, job["output"])
        rec["status"] = "ok"
    except _Failed as e:
        rec["error"] = str(e)
    finally:
        if rec["status"] != "ok":
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        rec["seconds"] = round(time.monotonic() - started, 3)
        rec["finished"] = _now()
    return rec


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_path(output):
    """Where the worker leaves an output's record until the client has it in the manifest."""
    out_dir, name = os.path.split(output)
    return os.path.join(out_dir, f".{name}.record.json")


def write_record(path, rec):
    """Writes `rec` as JSON at `path` atomically (a temporary renamed)."""
    tmp = f"{path}.{socket.gethostname()}-{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(rec, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
