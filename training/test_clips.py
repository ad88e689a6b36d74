"""The clip lists that decide how training data is made (ntcommon.clips: which clips are halved as
soft, which are cropped to their picture) agree with the data folder's MANIFEST.md. The D clips
were added to the manifest without the lists (D03 and D05 soft, D10 letterboxed), and the first
v10 run trained on them as they were.

    python -m pytest training/test_clips.py
"""

import re

import pytest

from ntcommon.clips import CROPS, SOFT
from ntcommon.paths import DATA

MANIFEST = DATA / "MANIFEST.md"
pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason=f"no {MANIFEST}")


def rows() -> dict[str, str]:
    """Clip id -> the "detail" column, for the train/ and val/ clips."""
    out = {}
    for line in MANIFEST.read_text().splitlines():
        m = re.match(r"\|\s*(?:train|val)/([A-Z]\d\d)_[^|]*\|([^|]*\|){3}([^|]*)\|", line)
        if m:
            out[m.group(1)] = m.group(3).strip()
    return out


def test_every_clip_the_manifest_calls_soft_is_halved():
    detail = rows()
    assert len(detail) > 50
    soft = {c for c, d in detail.items() if d.startswith("soft")}
    assert soft == SOFT & set(detail)


def test_every_crop_the_manifest_asks_for_is_applied():
    text = MANIFEST.read_text()
    asked = dict(re.findall(r"`(?:train|val)/([A-Z]\d\d)_\*`[^`]*`crop=([\d:]+)`", text))
    assert "D10" in asked and "A03" in asked
    assert asked == CROPS
