"""thqa re-encoding QP check: the knee rules, and one real x265 round trip when ffmpeg is here."""

import shutil

import numpy as np
import pytest

from . import reencode


def curve(q: int, dip: bool) -> np.ndarray:
    """A synthetic re-encoding curve: log10 MSE rising 0.07 a rung, +0.4 right after QP q."""
    L = 0.07 * np.arange(len(reencode.LADDER))
    i = reencode.LADDER.index(q)
    L[i + 1:] += 0.4
    if dip:
        L[i] -= 0.3
    return 10 ** L


@pytest.mark.parametrize("rule", reencode.RULES)
@pytest.mark.parametrize("q", [17, 27, 42])
def test_every_rule_finds_a_clean_knee(rule, q):
    assert reencode.knee(curve(q, dip=False), rule=rule) == q
    assert reencode.knee(curve(q, dip=True), rule=rule) == q


def test_the_bottom_rung_is_never_the_answer():
    m = curve(20, dip=False)
    m[1:] *= 10  # a jump right after the first rung only
    assert reencode.knee(m) != reencode.LADDER[0]


def test_same_person_clips_share_a_group():
    assert reencode.group("A10") == reencode.group("A07")
    assert reencode.group("B05") != reencode.group("B06")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg with libx265")
def test_an_intra_decode_reads_its_own_qp():
    rng = np.random.default_rng(3)
    w, h = 64, 64
    y = (128 + 40 * np.sin(np.arange(w) / 3)[None, :] + rng.normal(0, 12, (h, w))).clip(0, 255)
    raw = y.astype(np.uint8).tobytes() + bytes([128]) * (w * h // 2)
    dec = reencode.intra(raw, w, h, 30)
    ladder = tuple(range(24, 37))
    m = reencode.curves(dec, w, h, ladder)[0]
    assert abs(reencode.knee(m, ladder) - 30) <= 1
