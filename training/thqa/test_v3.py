"""thqa v3: grouped folds, features, the monotone map and the Rust parity fixture."""

import json

import numpy as np

from . import v3_eval, v3_features, v3_fixture, v3_infer, v3_model


def test_folds_never_split_a_source():
    groups = np.array(["A07", "A07", "B05", "B01", "B05", "C01", "C02", "A07", "D01", "D02"] * 3)
    f = v3_eval.folds(groups, k=3)
    for g in set(groups):
        assert len(set(f[groups == g])) == 1, g
    assert len(set(f)) == 3


def test_same_person_clips_share_a_group():
    from . import v3_data

    assert v3_data.group("A10") == v3_data.group("A07")
    assert v3_data.group("B08") == v3_data.group("B05")
    assert v3_data.group("C01") != v3_data.group("C02")


def test_block_edges_show_on_their_grid_only():
    y = v3_fixture.frame(128, 128, 5)[:, :64].copy()  # the blocky half
    i8 = v3_features.FEATURES.index("blk8")
    i4 = v3_features.FEATURES.index("blk4")
    f = v3_features.features(np.tile(y, (1, 2)), 128)
    g = v3_features.features(np.roll(np.tile(y, (1, 2)), (4, 4), axis=(0, 1)), 128)
    assert f[i8] > 1.0
    assert abs(g[i8]) < 0.1 < g[i4]


def test_a_frame_smaller_than_a_tile_is_read_edge_repeated():
    y = v3_fixture.frame(64, 64, 9)
    small = v3_features.features(y[:36, :50], 1080)
    padded = np.pad(y[:36, :50], ((0, 28), (0, 14)), mode="edge")
    assert np.array_equal(small[1:], v3_features.features(padded, 1080)[1:])
    assert v3_features.features(np.zeros((0, 10), np.uint8), 1080) is None


def test_the_map_is_monotone():
    rng = np.random.default_rng(0)
    qp = rng.uniform(15, 45, 400)
    res = rng.choice([-2.0, -1.0, 0.0], 400)
    target = np.clip(5 - (qp - 15) / 8 + res + rng.normal(0, 0.3, 400), 0, 5)
    m = v3_model.Monotone().fit(qp, res, target)
    grid = np.linspace(10, 50, 41)
    for r in (-2.0, -1.0, 0.0):
        s = m.predict(grid, np.full_like(grid, r))
        assert np.all(np.diff(s) <= 1e-12)
    s = m.predict(np.full(3, 30.0), np.array([-2.0, -1.0, 0.0]))
    assert np.all(np.diff(s) >= -1e-12)


def test_the_stored_fixture_is_up_to_date():
    consts = json.loads(v3_infer.JSON.read_text())
    assert v3_fixture.FIXTURE.read_bytes() == v3_fixture.fixture_bytes(consts), (
        "v3_features.py / v3-model.json and tests/data/thqa_v3_features.bin disagree: rerun "
        "`python -m training.thqa.v3_fixture` (and match src/thqa/features.rs)")
