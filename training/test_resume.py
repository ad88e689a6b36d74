"""A training run resumes from its last.pt where it stopped: the same weights, optimiser, averaged
weights and data draws as a run that was never stopped; re-running the same command continues it.

    python -m pytest training/test_resume.py
"""

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ntcommon.clips import TRAIN_QPS

from . import train
from .model import PixelNet
from .train import Frames, WeightAverage, resume, save, unroll


def fake_cache(root: Path, clips: int = 2, t: int = 6, size: int = 16) -> Path:
    """A training cache (prepare_data.py's layout) of random frames."""
    rng = np.random.default_rng(0)
    planes = lambda s, k: {"y": rng.integers(0, 256, (t, k * s, k * s), np.uint8),
                           "u": rng.integers(0, 256, (t, k * s // 2, k * s // 2), np.uint8),
                           "v": rng.integers(0, 256, (t, k * s // 2, k * s // 2), np.uint8)}
    for i in range(clips):
        d = root / f"Z{i:02d}"
        d.mkdir(parents=True)
        for c, p in planes(size, 4).items():
            np.save(d / f"hr_{c}.npy", p)
        for qp in TRAIN_QPS:
            for c, p in planes(size, 1).items():
                np.save(d / f"qp{qp}_{c}.npy", p)
    return root


def steps(model, opt, ema, rng, data, n, step):
    for _ in range(n):
        loss = unroll(model, 0.5, *data.batch(2, 3, 8, rng))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        ema.update(model, step)
    return step


def fresh(seed):
    torch.manual_seed(seed)
    model = PixelNet(4, 1, rep=8, extra=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model, opt, WeightAverage(model, 0.9), random.Random(seed)


def test_resuming_from_last_pt_continues_the_same_run(tmp_path):
    """Four steps straight, or two, a save, a new process's objects resumed from last.pt, and two
    more: the same weights, averaged weights and data draws, bit for bit."""
    torch.set_num_threads(1)
    data = Frames(fake_cache(tmp_path / "cache"), frames=6)
    model, opt, ema, rng = fresh(1)
    straight = steps(model, opt, ema, rng, data, 4, 0)

    m2, o2, e2, r2 = fresh(1)
    step = steps(m2, o2, e2, r2, data, 2, 0)
    save(tmp_path / "last.pt", m2, o2, step, 12.5, r2, e2)
    m3, o3, e3, r3 = fresh(99)  # another seed: everything must come from the checkpoint
    assert resume(tmp_path / "last.pt", m3, o3, r3, e3) == (2, 12.5)
    assert steps(m3, o3, e3, r3, data, 2, 2) == straight == 4
    for k, v in model.state_dict().items():
        assert torch.equal(v, m3.state_dict()[k]), k
        assert torch.equal(ema.shadow[k], e3.shadow[k]), k
    assert rng.random() == r3.random()
    assert resume(tmp_path / "none.pt", m3, o3, r3, e3) == (0, 0.0)


def test_rerunning_the_command_resumes(tmp_path, monkeypatch, capsys):
    """train.py killed after a few steps (last.pt written every step here), then the same command
    again: it resumes from last.pt with its step count and time, and finishes."""
    monkeypatch.setattr(train, "CACHE", fake_cache(tmp_path / "cache"))
    out = tmp_path / "run"
    argv = ["train", "--channels", "4", "--body", "1", "--rep", "8", "--extra", "1", "--batch", "2",
            "--seq", "3", "--crop", "8", "--frames", "6", "--threads", "1", "--minutes", "0.03",
            "--save-every", "0", "--warmup", "2", "--ema", "0.9", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    real_unroll, calls = train.unroll, []

    def killed_at_the_fourth_step(*args, **kw):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_unroll(*args, **kw)

    monkeypatch.setattr(train, "unroll", killed_at_the_fourth_step)
    with pytest.raises(KeyboardInterrupt):
        train.main()
    s = torch.load(out / "last.pt", weights_only=False)
    assert s["step"] == 3 and not (out / "final.pt").exists()

    monkeypatch.setattr(train, "unroll", real_unroll)
    capsys.readouterr()
    train.main()
    log = capsys.readouterr().out
    assert "resumed at step 3 " in log
    done = int(log.strip().splitlines()[-1].split()[1])
    assert done > 3 and torch.load(out / "last.pt", weights_only=False)["seconds"] >= 0.03 * 60
    assert (out / "final.pt").exists() and (out / "final-ema.pt").exists()


def test_v10s_command_line_resumes_its_committed_checkpoint(tmp_path, monkeypatch, capsys):
    """The v10 run (docs/history.md) resumes next session with the command line it was started
    with: that command (only --out and the time budget changed) loads its committed checkpoint
    (whatever step it holds) as its last.pt, weights, Adam and EMA, and trains on. Needs the loss packages of
    training/requirements.txt (the bench venv lacks them)."""
    pytest.importorskip("vmaf_torch")
    pytest.importorskip("pytorch_msssim")
    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)  # --init-from is relative to the repository's root
    monkeypatch.setattr(train, "CACHE", fake_cache(tmp_path / "cache", t=8, size=48))
    out = tmp_path / "v10"
    out.mkdir()
    saved = torch.load(root / "training/checkpoints/v10-last.pt", weights_only=False)
    torch.save(saved, out / "last.pt")
    argv = ("--arch pixel --channels 16 --body 5 --rep 64 --extra 1 --init-from "
            "training/checkpoints/v9-last.pt --lr 3e-4 --warmup 200 --frames 360 --seq 8 --batch 8 "
            "--seed 2035 --minutes 600 --threads 1 --msssim 0.03 --vmaf 0.001 --vmaf-neg 0.002 "
            "--fft 0.1 --ema 0.999 --out training/runs/v10").split()
    # The same run, given a budget that ends a few seconds after the checkpoint, and a test folder.
    train.main(argv + ["--minutes", str(saved["seconds"] / 60 + 0.02), "--out", str(out)])
    log = capsys.readouterr().out
    step = saved["step"]
    assert f"resumed at step {step} " in log
    done = torch.load(out / "last.pt", weights_only=False)
    assert done["step"] > step and set(done) == set(saved)
    assert set(done["model"]) == set(saved["model"]) and set(done["ema"]) == set(saved["ema"])
    moved = [k for k, v in done["model"].items() if not torch.equal(v, saved["model"][k])]
    assert moved, "no weight changed after the resumed steps"
