"""What the client decides before any task runs: which files, their output names, threads."""

from pathlib import Path

from batch.cli import claimed_by_another, find_inputs, output_paths, skipped_record, threads_by_cores, writers
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


def test_every_input_gets_its_own_output_name(tmp_path):
    i, o = tmp_path / "in", tmp_path / "out"
    names = ["a.mkv", "a.webm", "a.mkv.mp4", "a.mkv.2.mp4", "a.mp4", "b.MP4", "b.mp4", "c.h265", "c.265", "c.mp4"]
    found = [i / n for n in names]
    outs = output_paths(found, i, o)
    assert len(set(outs.values())) == len(found), outs
    assert all(q.parent == o and q.suffix == ".mp4" for q in outs.values()), outs
    # An input whose first choice no other input wants keeps it; the order given changes nothing.
    assert outs[i / "a.mp4"] == o / "a.mp4" and outs[i / "a.mkv.mp4"] == o / "a.mkv.mp4"
    assert output_paths(list(reversed(found)), i, o) == outs


def test_an_output_another_input_wrote_is_not_taken_as_done():
    written_for = writers({"/in/a.mkv.mp4": {"input": "/in/a.mkv.mp4", "output": "/out/a.mkv.mp4", "status": "ok"}})
    assert claimed_by_another(Path("/in/a.mkv"), Path("/out/a.mkv.mp4"), written_for)
    assert not claimed_by_another(Path("/in/a.mkv.mp4"), Path("/out/a.mkv.mp4"), written_for)
    assert not claimed_by_another(Path("/in/b.mkv"), Path("/out/b.mp4"), written_for)
