"""The Rust parity fixture of the patch rule is what display.py takes today."""

from .fixture import FIXTURE, fixture_bytes


def test_the_stored_fixture_is_up_to_date():
    assert FIXTURE.read_bytes() == fixture_bytes(), (
        "display.py and tests/data/thqa_patches.bin disagree: if the patch rule changed on purpose, "
        "change src/thqa/patches.rs to match and rerun `python -m training.thqa.fixture`")
