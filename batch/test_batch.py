"""scripts/batch on a LocalCluster (2 worker processes), a rerun that skips what is done, and a
scheduler and two workers started as separate processes on 127.0.0.1 (one of which dies mid-file).
Every process has a bounded timeout and is torn down."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch.conftest import CLIPS, CORRUPT, FRAMES, ROOT, TIMEOUT, TINY, decode

pytest.importorskip("gi", reason="PyGObject (python3-gi) is not in this interpreter")
pytestmark = [
    pytest.mark.usefixtures("plugin_env"),
    # Debian 12's distributed 2022.12 with tornado 6.2, in the test's own Client
    pytest.mark.filterwarnings("ignore:make_current is deprecated:DeprecationWarning"),
]
pytest.importorskip("distributed", reason="Dask distributed (python3-distributed) is not in this interpreter")
from distributed import Client  # noqa: E402

BATCH = ROOT / "scripts" / "batch"
RUN_TIMEOUT = 240
CORES = len(os.sched_getaffinity(0))


def batch(*args, env=None):
    e = dict(os.environ, BATCH_PYTHON=sys.executable, **(env or {}))
    t0 = time.monotonic()
    r = subprocess.run(
        [str(BATCH), "--model", str(TINY), *map(str, args)], capture_output=True, text=True, timeout=RUN_TIMEOUT, env=e
    )
    return r, time.monotonic() - t0


def manifest(out):
    assert not (out / ".manifest.jsonl.part").exists()
    with open(out / "manifest.jsonl") as f:
        return {os.path.basename(r["input"]): r for r in map(json.loads, f)}


def check_outputs(out, records, n_threads, failed=()):
    """Every clip at 4x with every frame (but those in `failed`), the corrupt one an error, nothing
    partial left."""
    assert set(records) == {os.path.basename(n) for n in CLIPS} | {CORRUPT}
    for name, (w, h, _) in CLIPS.items():
        r = records[os.path.basename(name)]
        if name in failed:
            continue
        assert r["status"] == "ok", r
        dst = out / (os.path.splitext(name)[0] + ".mp4")
        assert r["output"] == str(dst)
        frames, ow, oh, kinds = decode(dst)
        assert (frames, ow, oh) == (FRAMES, 4 * w, 4 * h), name
        assert r["frames_in"] == r["frames_out"] == r["stats"]["frames"] == FRAMES, r
        assert r["size_in"] == [w, h] and r["size_out"] == [4 * w, 4 * h], r
        assert r["stats"]["resets"] <= 1 and r["stats"]["mean-ms"] > 0, r  # 1: the stream's start
        for k in ("clip_score_before", "clip_score_after"):
            assert 0 <= r[k] <= 5, r
        assert r["n_threads"] == n_threads, r
        assert r["worker"]["pid"] > 0 and r["worker"]["host"], r
        assert r["audio"] == ("audio/x-raw" in kinds) == name.endswith(".mkv"), (r, kinds)
    for name in (CORRUPT, *failed):
        bad = records[os.path.basename(name)]
        assert bad["status"] == "error" and bad["error"] and not os.path.exists(bad["output"]), bad
    leftovers = [p for p in out.rglob(".*") if p.is_file()]
    assert not leftovers, leftovers


@pytest.fixture(scope="module")
def local_run(clip_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out_local")
    r, secs = batch("--workers", 2, clip_dir, out)
    return out, r, secs


def test_local_cluster(clip_dir, local_run):
    out, r, secs = local_run
    assert r.returncode == 1, r.stdout + r.stderr  # 1: a file failed (the corrupt one)
    records = manifest(out)
    check_outputs(out, records, n_threads=max(1, CORES // 2))
    pids = {rec["worker"]["pid"] for rec in records.values() if rec["status"] == "ok"}
    assert len(pids) >= 2, records
    assert "ok 4, skipped 0, error 1" in r.stdout, r.stdout
    print(f"LocalCluster run: {secs:.1f} s")


def test_rerun_skips_what_is_done(clip_dir, local_run):
    out, _, _ = local_run
    before = manifest(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    r, secs = batch("--workers", 2, clip_dir, out)
    assert r.returncode == 1, r.stdout + r.stderr  # the corrupt file is tried again, and fails again
    assert "4 already done, 1 to do" in r.stdout, r.stdout
    records = manifest(out)
    for name in CLIPS:
        rec, old = records[os.path.basename(name)], before[os.path.basename(name)]
        assert rec["status"] == "skipped" and rec["worker"] is None, rec
        # the figures of the run that made the output are carried over
        assert (rec["frames_out"], rec["stats"]) == (old["frames_out"], old["stats"]), rec
    assert records[CORRUPT]["status"] == "error"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")} == mtimes
    print(f"rerun: {secs:.1f} s")


def _start(args, env, log, cwd):
    # Own session: the process and the nanny's worker process are torn down as a group.
    return subprocess.Popen(
        [sys.executable, "-m", *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
    )


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def test_scheduler_and_workers_as_processes(clip_dir, tmp_path):
    """`dask scheduler` and two `dask worker`s as a real cluster runs them, on 127.0.0.1 only. The
    workers don't have this repository on their path (the task's module travels pickled by value).
    The worker running d.avi dies after its first frame, once: the file is run again and ends ok.
    The one running a.mp4 dies 4 times: past allowed-failures (3), an error record."""
    out, crash = tmp_path / "out", tmp_path / "crash"
    crash.mkdir()
    (crash / "d.avi").write_text("1\n")
    (crash / "a.mp4").write_text("4\n")
    sched_file = tmp_path / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["NTIRESR_BATCH_TEST_CRASH_DIR"] = str(crash)
    # as docs/batch.md starts a scheduler for batch/: a worker holds only the file it runs
    env["DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION"] = "1.0"
    scheduler = f"distributed.cli.dask_scheduler --host 127.0.0.1 --port 0 --no-dashboard --scheduler-file {sched_file}"
    worker = f"distributed.cli.dask_worker --scheduler-file {sched_file} --host 127.0.0.1 --nthreads 1 --no-dashboard"
    procs = []
    with open(tmp_path / "cluster.log", "w") as log:
        try:
            procs.append(_start(scheduler.split(), env, log, tmp_path))
            procs += [_start([*worker.split(), "--name", f"w{i}"], env, log, tmp_path) for i in (1, 2)]
            deadline = time.monotonic() + TIMEOUT
            while not sched_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            address = json.loads(sched_file.read_text())["address"]
            assert address.startswith("tcp://127.0.0.1:"), address
            with Client(address, timeout=TIMEOUT) as client:
                client.wait_for_workers(2, timeout=TIMEOUT)
            r, secs = batch("--scheduler", address, clip_dir, out)
        finally:
            _stop(procs)
    cluster_log = (tmp_path / "cluster.log").read_text()
    assert r.returncode == 1, r.stdout + r.stderr + cluster_log
    assert "2 worker(s) on 1 host(s)" in r.stdout, r.stdout
    records = manifest(out)
    check_outputs(out, records, n_threads=max(1, CORES // 2), failed=("a.mp4",))
    assert "died 4 times" in records["a.mp4"]["error"], records["a.mp4"]
    left = {p.name: p.read_text() for p in crash.iterdir()}
    assert not left, (left, r.stdout, cluster_log)
    print(f"scheduler + 2 worker processes: {secs:.1f} s")


def _one_line_refusal(r, *words):
    assert r.returncode == 2, r.stdout + r.stderr
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert all(w in lines[0] for w in words), lines


def test_setup_failures_are_one_line_and_exit_2_before_any_worker(clip_dir, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    if os.geteuid() != 0:
        read_only = tmp_path / "ro"
        read_only.mkdir(mode=0o555)
    else:
        read_only = Path("/sys/kernel")  # sysfs: no new file, even for root
    cases = [
        ((clip_dir, clip_dir), ("OUT_DIR is IN_DIR",)),
        ((clip_dir / "sub", clip_dir), ("inside OUT_DIR",)),
        ((clip_dir, a_file), ("not a directory",)),
        ((clip_dir, a_file / "out"), ("cannot write",)),
        ((clip_dir, read_only), ("cannot write",)),
        (("--n-threads", -1, clip_dir, tmp_path / "o1"), ("--n-threads",)),
        (("--stall-timeout", -5, clip_dir, tmp_path / "o2"), ("--stall-timeout",)),
    ]
    for args, words in cases:
        r, secs = batch(*args)
        _one_line_refusal(r, *words)
        assert secs < 30, (args, secs)  # no cluster was started
    assert not any(clip_dir.rglob("*.mp4.mp4")), "nothing was upscaled into IN_DIR"
    # Checked on the workers before any file is given to them.
    r, _ = batch("--x264", "speed-preset=fast no-such-option=1", clip_dir, tmp_path / "o3")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "no-such-option" in r.stderr.strip().splitlines()[-1], r.stderr
    assert not list((tmp_path / "o3").rglob("*.mp4")), "no file was run"


def test_a_file_finished_after_the_client_left_keeps_its_figures(clip_dir, tmp_path):
    """A worker that completed a file whose result never reached the client (interrupted) left its
    record beside the output: the rerun skips the file with that run's figures."""
    import batch.worker as worker

    out = tmp_path / "out"
    job = {"input": str(clip_dir / "a.mp4"), "output": str(out / "a.mp4"), "model": str(TINY), "n_threads": 1}
    done = worker.upscale_file(job)
    assert done["status"] == "ok", done
    r, _ = batch(clip_dir, out)
    assert r.returncode == 1, r.stdout + r.stderr  # the corrupt file
    rec = manifest(out)["a.mp4"]
    assert rec["status"] == "skipped", rec
    assert (rec["frames_out"], rec["stats"]) == (FRAMES, done["stats"]), rec
    assert not [p for p in out.rglob(".*") if p.is_file()], "records beside outputs are removed"


def test_an_interrupted_run_records_every_output_it_leaves(clip_dir, tmp_path):
    out = tmp_path / "out"
    e = dict(os.environ, BATCH_PYTHON=sys.executable)
    proc = subprocess.Popen(
        [str(BATCH), "--model", str(TINY), "--workers", "1", "--n-threads", "1", clip_dir, out],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=e,
        start_new_session=True,
    )
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("[1/"):
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: to the whole group, workers too
                break
        rest, _ = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    log = "".join(seen) + rest
    assert proc.returncode == 130, log
    records = {r["output"]: r for r in manifest(out).values()}
    outputs = sorted(out.rglob("*.mp4"))
    assert outputs, log
    for path in outputs:
        rec = records.get(str(path))
        assert rec and rec["status"] == "ok" and rec["frames_out"] == FRAMES, (path, rec, log)
    assert not [p for p in out.rglob(".*") if p.is_file()], log


def test_preset_chooses_the_embedded_model(clip_dir, tmp_path):
    one = tmp_path / "in"
    one.mkdir()
    (one / "a.mp4").write_bytes((clip_dir / "a.mp4").read_bytes())
    e = dict(os.environ, BATCH_PYTHON=sys.executable)
    frames = {}
    for preset in ("fidelity", "detail"):
        out = tmp_path / preset
        r = subprocess.run(
            [str(BATCH), "--preset", preset, one, out], capture_output=True, text=True, timeout=RUN_TIMEOUT, env=e
        )
        assert r.returncode == 0, r.stdout + r.stderr
        rec = manifest(out)["a.mp4"]
        assert rec["status"] == "ok" and rec["model"] == f"embedded {preset}", rec
        frames[preset] = raw_frames(out / "a.mp4")
    assert frames["fidelity"] != frames["detail"], "the two presets gave the same pictures"
    r = subprocess.run(
        [str(BATCH), "--preset", "detail", "--model", str(TINY), one, tmp_path / "both"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=e,
    )
    _one_line_refusal(r, "--model")


def raw_frames(path):
    """The decoded I420 bytes of every frame of `path`."""
    desc = f"filesrc location={path} ! decodebin ! videoconvert ! video/x-raw,format=I420 ! fdsink fd=1"
    out = subprocess.run(
        ["gst-launch-1.0", "-q", *desc.split()],
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
    )
    return out.stdout
