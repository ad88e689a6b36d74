"""scripts/batch: every video file under IN_DIR to OUT_DIR/<same relative path>.mp4 at 4x, one Dask
task per file, on a LocalCluster or on the cluster at --scheduler; OUT_DIR/manifest.jsonl says what
became of each file. Exit status: 0 when every file is ok or skipped, 1 when any failed, 2 when
the run could not start."""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

# Containers and elementary streams looked for under IN_DIR (decodebin finds out what each really
# is; a file that is not a video it can read gets an `error` record).
VIDEO_EXTENSIONS = (
    ".mp4 .m4v .mov .mkv .webm .avi .ts .mts .m2ts .flv .3gp .ogv .mpg .mpeg .mxf .wmv .asf .y4m .ivf "
    ".h264 .264 .h265 .265 .hevc"
).split()
X264_DEFAULT = "speed-preset=veryfast pass=qual quantizer=20"
# A task that raises (not a file's own failure: those are `error` records) is run again this often.
RETRIES = 2
# A file whose worker dies (killed, out of memory, a crash) is given to a worker again this often,
# then recorded as an error: Dask's distributed.scheduler.allowed-failures, set so for the
# LocalCluster (a remote scheduler has its own setting; its default is 3 too). A death counts
# against every task the worker held: with worker-saturation 1.0 a worker holds only those it runs.
ALLOWED_FAILURES = 3
SCHEDULER_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
    "distributed.scheduler.worker-saturation": 1.0,
}
MANIFEST = "manifest.jsonl"
# ntiresr's `preset` values (the embedded models).
PRESETS = ("fidelity", "detail")


class SetupError(Exception):
    """The run cannot start (bad options or OUT_DIR, no scheduler, no worker, a worker without the
    elements)."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (exit 2), as every other setup failure."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def parse_args(argv):
    p = _Parser(
        prog="scripts/batch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("in_dir", metavar="IN_DIR", type=Path)
    p.add_argument("out_dir", metavar="OUT_DIR", type=Path)
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="a running Dask scheduler; default: a LocalCluster on this machine",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="LocalCluster worker processes, one pipeline each (default: cores, at most one per file)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--preset",
        choices=PRESETS,
        help="the embedded model ntiresr runs (ntiresr preset): fidelity (the default, closest to the "
        "original) or detail (crisper texture)",
    )
    which.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="ntiresr model-location (a path every worker can read) instead of an embedded model",
    )
    p.add_argument(
        "--n-threads",
        type=int,
        default=0,
        metavar="K",
        help="threads of each pipeline (ntiresr n-threads, x264enc threads); default 0: the worker's cores "
        "divided among the pipelines that run on them at once",
    )
    p.add_argument(
        "--x264", default=X264_DEFAULT, metavar="PROPS", help=f"x264enc properties (default: {X264_DEFAULT!r})"
    )
    p.add_argument("--no-audio", action="store_true", help="drop the sound (default: first audio stream to AAC)")
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=300,
        metavar="S",
        help="a file whose pipeline makes no progress for S seconds is an error (default 300)",
    )
    a = p.parse_args(argv)
    if not a.in_dir.is_dir():
        p.error(f"{a.in_dir}: not a directory")
    if a.workers is not None and a.workers < 1:
        p.error("--workers must be at least 1")
    if a.scheduler and a.workers:
        p.error("--workers is for the LocalCluster; a --scheduler's cluster has its own workers")
    if a.model is not None and not a.model.is_file():
        p.error(f"{a.model}: no such file")
    if a.n_threads < 0:
        p.error(f"--n-threads must be 0 (automatic) or more, not {a.n_threads}")
    if not a.stall_timeout >= 0:
        p.error(f"--stall-timeout must be 0 (none) or more seconds, not {a.stall_timeout}")
    in_dir, out_dir = a.in_dir.resolve(), a.out_dir.resolve()
    if out_dir == in_dir:
        p.error(f"OUT_DIR is IN_DIR ({in_dir}): the outputs would be taken for inputs; name another folder")
    if in_dir.is_relative_to(out_dir):
        p.error(f"IN_DIR {in_dir} is inside OUT_DIR {out_dir}: outputs could land among the inputs")
    return a


def prepare_out_dir(out_dir):
    """Creates OUT_DIR if needed and checks that a file can be written there; SetupError if not."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SetupError(f"OUT_DIR {out_dir}: not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".batch-write-check-"):
            pass
    except OSError as e:
        raise SetupError(f"OUT_DIR {out_dir}: cannot write there ({e.strerror or e})") from e


def find_inputs(in_dir, out_dir):
    """Video files under in_dir, sorted, skipping hidden files and folders and out_dir itself."""
    in_dir, out_dir = in_dir.resolve(), out_dir.resolve()
    found = []
    for root, dirs, files in os.walk(in_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root, d).resolve() != out_dir)
        for f in sorted(files):
            if not f.startswith(".") and Path(f).suffix.lower() in VIDEO_EXTENSIONS:
                found.append(Path(root, f))
    return found


def output_paths(inputs, in_dir, out_dir):
    """OUT_DIR/<relative path>.mp4, the extension replaced, each input its own output. Where inputs
    would share a name, an .mp4 input keeps its own (call.mp4) and the others keep their
    extension (call.mkv.mp4, call.webm.mp4), then a number (call.mkv.2.mp4) until no other input
    has that name. The names depend on the set of inputs only, not on their order."""
    in_dir, out_dir = in_dir.resolve(), out_dir.resolve()
    rel = {i: i.relative_to(in_dir) for i in sorted(inputs)}
    first = {i: r.with_suffix(".mp4") for i, r in rel.items()}
    count = defaultdict(int)
    for o in first.values():
        count[o] += 1
    # Unique first choices, and .mp4 inputs' own names, are settled before any clash is resolved,
    # so no fallback takes them.
    names = {i: o for i, o in first.items() if count[o] == 1 or rel[i] == o}
    taken = set(first.values())
    for i, r in rel.items():
        if i in names:
            continue
        name, n = Path(f"{r}.mp4"), 1
        while name in taken:
            n += 1
            name = Path(f"{r}.{n}.mp4")
        taken.add(name)
        names[i] = name
    return {i: out_dir / names[i] for i in inputs}


def previous_records(out_dir):
    """The last record per input from an earlier run's manifest, unfinished manifest, and the
    records workers left beside outputs that no manifest got (a client stopped hard)."""
    prev = {}
    for name in (MANIFEST, f".{MANIFEST}.part"):
        try:
            with open(out_dir / name) as f:
                for line in f:
                    try:
                        r = json.loads(line)
                        prev[r["input"]] = r
                    except (ValueError, KeyError, TypeError):
                        pass
        except FileNotFoundError:
            pass
    for path in out_dir.rglob(".*.record.json"):
        r = _read_record(path)
        if r is not None:
            prev[r["input"]] = r
    return prev


def _read_record(path):
    """The record a worker left at `path`, or None (missing, unreadable)."""
    try:
        with open(path) as f:
            r = json.load(f)
        return r if isinstance(r, dict) and "input" in r and "output" in r else None
    except (OSError, ValueError):
        return None


def writers(prev):
    """Output path -> the inputs an earlier run's records say it was written for."""
    out = defaultdict(set)
    for r in prev.values():
        out[r.get("output")].add(r.get("input"))
    return out


def claimed_by_another(inp, out, written_for):
    """Whether an earlier run's records (`writers`) say `out` was written for another input."""
    return bool(written_for.get(str(out), set()) - {str(inp)})


def skipped_record(inp, out, prev):
    """A file whose output is complete (it exists: outputs appear by rename only). The figures are
    those of the run that made it, where its manifest still has them."""
    r = {"input": str(inp), "output": str(out), "status": "skipped", "error": None, "seconds": 0.0, "worker": None}
    p = prev.get(str(inp))
    if p and p.get("status") in ("ok", "skipped"):
        for k in (
            "frames_in",
            "frames_out",
            "size_in",
            "size_out",
            "audio",
            "stats",
            "clip_score_before",
            "clip_score_after",
        ):
            if k in p:
                r[k] = p[k]
    return r


def threads_by_cores(probes):
    """n-threads per set of cores ("host/0-7", see batch.worker.core_set): the cores divided among
    the task slots of all the workers that may run on them (workers pinned to distinct cores don't
    share; unpinned workers on one host do)."""
    slots = defaultdict(int)
    for p in probes.values():
        slots[p["cores"]] += p["slots"]
    return {c: max(1, _count_cores(c) // n) for c, n in slots.items()}


def _count_cores(core_set):
    n = 0
    for r in core_set.rsplit("/", 1)[1].split(","):
        a, _, b = r.partition("-")
        n += int(b or a) - int(a) + 1
    return n


def _key(inp, token):
    return f"upscale-{hashlib.sha1(str(inp).encode()).hexdigest()[:12]}-{token}"


def _cleanup_partials(out):
    for p in out.parent.glob(f".{out.name}.*.part"):
        try:
            p.unlink()
        except OSError:
            pass


def _drop_records(out_dir):
    """Removes the records workers left beside outputs, once the manifest holds them."""
    for p in [*out_dir.rglob(".*.record.json"), *out_dir.rglob(".*.record.json.*.tmp")]:
        try:
            p.unlink()
        except OSError:
            pass


def _log(msg):
    print(msg, flush=True)


def start_client(args, n_jobs):
    """A Client of the --scheduler's cluster, or of a new LocalCluster; (client, cluster or None)."""
    import dask
    from distributed import Client, LocalCluster

    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout="30s")
        except OSError as e:
            raise SetupError(f"no Dask scheduler at {args.scheduler}: {e}") from e
        try:
            client.wait_for_workers(1, timeout=60)
        except (TimeoutError, OSError) as e:
            client.close()
            raise SetupError(f"the scheduler at {args.scheduler} has no worker after 60 s") from e
        return client, None
    cores = len(os.sched_getaffinity(0))
    n = args.workers or max(1, min(cores, n_jobs))
    with dask.config.set(SCHEDULER_CONFIG):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    return Client(cluster), cluster


def run(args):
    import cloudpickle

    import batch.worker as worker

    # Workers need not have this repository: the task's module travels with it.
    cloudpickle.register_pickle_by_value(worker)

    out_dir = args.out_dir.resolve()
    prepare_out_dir(out_dir)
    inputs = find_inputs(args.in_dir, out_dir)
    outputs = output_paths(inputs, args.in_dir, out_dir)
    prev = previous_records(out_dir)
    written_for = writers(prev)
    records, todo = [], []
    for inp in inputs:
        out = outputs[inp]
        if out.is_file() and out.stat().st_size > 0 and not claimed_by_another(inp, out, written_for):
            records.append(skipped_record(inp, out, prev))
        else:
            todo.append(inp)
    _log(f"batch: {len(inputs)} file(s) under {args.in_dir}: {len(records)} already done, {len(todo)} to do")

    part = out_dir / f".{MANIFEST}.part"
    with open(part, "w") as manifest:
        for r in records:
            manifest.write(json.dumps(r) + "\n")
        manifest.flush()
        failed, interrupted = 0, False
        if todo:
            client, cluster = start_client(args, len(todo))
            try:
                failed = _process(args, client, worker, todo, outputs, records, manifest)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
            # A file that completed after the client stopped listening (interrupted) has its record
            # beside it. (The LocalCluster's workers have stopped; a remote cluster's may still
            # finish one: the next run reads its record.) Then what died mid-file left goes.
            recorded = {r["input"] for r in records}
            for inp in todo:
                out = outputs[inp]
                r = _read_record(worker.record_path(str(out)))
                if str(inp) not in recorded and r is not None and r["input"] == str(inp) and out.is_file():
                    records.append(r)
                    manifest.write(json.dumps(r) + "\n")
                _cleanup_partials(out)
            manifest.flush()
    records.sort(key=lambda r: r["input"])
    tmp = out_dir / f".{MANIFEST}.tmp"
    with open(tmp, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, out_dir / MANIFEST)
    part.unlink()
    _drop_records(out_dir)
    n = defaultdict(int)
    for r in records:
        n[r["status"]] += 1
    _log(f"batch: ok {n['ok']}, skipped {n['skipped']}, error {n['error']}; manifest {out_dir / MANIFEST}")
    if interrupted:
        raise KeyboardInterrupt
    return 1 if failed else 0


def _process(args, client, worker, todo, outputs, records, manifest):
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    probes = client.run(worker.probe, args.x264)
    for address, p in sorted(probes.items()):
        if p["missing"]:
            raise SetupError(
                f"worker {address} on {p['host']} lacks {', '.join(p['missing'])}"
                " (GST_PLUGIN_PATH, the Debian packages of scripts/setup-debian)"
            )
        if p.get("unknown_x264"):
            raise SetupError(f"--x264: x264enc has no property {', '.join(p['unknown_x264'])}")
    threads = threads_by_cores(probes)
    try:
        deaths = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
    except Exception:  # noqa: BLE001 (an older or locked-down scheduler: only the message loses)
        deaths = "?"
    _log(
        f"batch: {len(probes)} worker(s) on {len({p['host'] for p in probes.values()})} host(s); "
        f"n-threads per pipeline {args.n_threads or sorted(set(threads.values()))}; "
        f"a task that raises is run again up to {RETRIES}x, one whose worker dies up to {deaths}x"
    )

    token = uuid.uuid4().hex[:8]
    # Largest files first: the long tasks start early and the last ones to finish are short.
    todo = sorted(todo, key=lambda i: -i.stat().st_size)
    jobs = [
        {
            "input": str(inp),
            "output": str(outputs[inp]),
            "model": str(args.model.resolve()) if args.model else None,
            "preset": args.preset,
            "n_threads": args.n_threads or None,
            "threads_by_cores": threads,
            "x264": args.x264,
            "audio": not args.no_audio,
            "stall_timeout": args.stall_timeout,
        }
        for inp in todo
    ]
    # One graph: the scheduler sees every file at once and queues them (a batch larger than twice
    # the cluster's threads), handing a worker a file only when it has a free thread.
    futs = client.map(worker.upscale_file, jobs, key=[_key(i, token) for i in todo], retries=RETRIES)
    futures = dict(zip(futs, jobs))
    failed, done, t0 = 0, 0, time.monotonic()
    for fut in as_completed(futures):
        job = futures.pop(fut)
        try:
            r = fut.result()
        except KilledWorker as e:
            times = f"{e.args[2] + 1} times" if len(e.args) > 2 else "too often"  # (task, worker, allowed)
            r = _error_record(job, f"the worker running it died {times} (Dask KilledWorker)")
        except Exception as e:  # noqa: BLE001 (the task raised RETRIES + 1 times: record it, go on)
            r = _error_record(job, f"{type(e).__name__}: {e}")
        # Let the scheduler forget it: a result held by a worker that dies later would be computed
        # again (the file run twice) for a client that still wants it.
        fut.release()
        if r["status"] != "ok":
            failed += 1
        _cleanup_partials(Path(job["output"]))
        records.append(r)
        manifest.write(json.dumps(r) + "\n")
        manifest.flush()
        done += 1
        w = r.get("worker") or {}
        what = (
            f"{r['frames_out']} frames {r['size_in']}->{r['size_out']} in {r['seconds']:.1f} s"
            if r["status"] == "ok"
            else r["error"]
        )
        _log(
            f"[{done}/{len(todo)} {time.monotonic() - t0:.0f}s] {r['status']:5} {job['input']}: {what}"
            + (f" ({w.get('host')}:{w.get('pid')})" if w else "")
        )
    return failed


def _error_record(job, error):
    return {
        "input": job["input"],
        "output": job["output"],
        "status": "error",
        "error": error,
        "frames_in": None,
        "frames_out": None,
        "seconds": None,
        "worker": None,
        "stats": None,
        "clip_score_before": None,
        "clip_score_after": None,
    }


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except SetupError as e:
        print(f"batch: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _log("batch: interrupted; outputs done so far are complete and in the manifest, rerun to go on")
        return 130
