"""What the client decides before any task runs: which files, their output names, threads."""

from pathlib import Path

from batch.cli import find_inputs, output_paths, skipped_record, threads_by_cores
from batch.worker import core_set


def test_inputs_outputs_and_name_clashes(tmp_path):
    i, o = tmp_path / "in", tmp_path / "in" / "out"
    for f in ("call.mkv", "call.webm", "x/y.MOV", ".hidden.mp4", ".cache/z.mp4", "notes.txt", "out/old.mp4"):
        (i / f).parent.mkdir(parents=True, exist_ok=True)
        (i / f).write_bytes(b"")
    found = find_inputs(i, o)
    assert [p.relative_to(i).as_posix() for p in found] == ["call.mkv", "call.webm", "x/y.MOV"]
    outs = {p.name: q.relative_to(o).as_posix() for p, q in output_paths(found, i, o).items()}
    assert outs == {"call.mkv": "call.mkv.mp4", "call.webm": "call.webm.mp4", "y.MOV": "x/y.mp4"}


def test_threads_share_cores_among_the_slots_on_them():
    probes = {
        "a": {"cores": "h1/0-7", "slots": 1},
        "b": {"cores": "h1/0-7", "slots": 1},  # unpinned on h1: 8 cores for 2 pipelines
        "c": {"cores": "h2/0-3", "slots": 1},  # pinned halves of h2: 4 cores each
        "d": {"cores": "h2/4-7", "slots": 1},
        "e": {"cores": "h3/0,2,4", "slots": 4},  # 3 cores for 4 pipelines: 1 each
    }
    assert threads_by_cores(probes) == {"h1/0-7": 4, "h2/0-3": 4, "h2/4-7": 4, "h3/0,2,4": 1}
    assert core_set().split("/")[0]


def test_skipped_record_carries_the_figures_of_the_run_that_made_it():
    prev = {"/in/a.mp4": {"status": "ok", "frames_out": 10, "stats": {"frames": 10}, "worker": {"pid": 1}}}
    r = skipped_record(Path("/in/a.mp4"), Path("/out/a.mp4"), prev)
    assert (r["status"], r["frames_out"], r["stats"], r["worker"]) == ("skipped", 10, {"frames": 10}, None)
    assert "frames_out" not in skipped_record(Path("/in/b.mp4"), Path("/out/b.mp4"), prev)
