"""examples.call.rate: the upscaling rate follows what the server keeps up with."""

from examples.call.rate import FPS_MIN, Rate


def settled(r, n=3):
    """Past the first seconds, which are not acted on."""
    for _ in range(n):
        assert not r.update(30, 30, 10, 40)
    return r


def test_first_seconds_do_nothing():
    r = Rate()
    settled(r)
    assert r.fps == 30


def test_down_to_what_came_out_when_frames_are_dropped():
    r = settled(Rate())
    assert r.update(30, 30, 12.5, 60)
    assert (r.fps, r.caps()) == (12, "video/x-raw,framerate=12/1")
    assert not r.update(30, 12, 12, 60)  # kept up: no change yet


def test_never_below_the_floor():
    r = settled(Rate())
    r.update(30, 30, 1, 500)
    assert r.fps == FPS_MIN


def test_down_to_what_the_browser_sends():
    r = settled(Rate())
    assert r.update(14.6, 14.6, 14.6, 20)
    assert r.fps == 15


def test_up_after_5_calm_seconds_to_80_percent_of_the_processing_time():
    r = settled(Rate(10))
    for _ in range(4):
        assert not r.update(30, 10, 10, 40)
    assert r.update(30, 10, 10, 40)
    assert r.fps == 20  # 0.8 * 1000 / 40


def test_no_small_steps_up():
    r = settled(Rate(19))
    for _ in range(10):
        assert not r.update(30, 19, 19, 40)  # 20 allowed: one more is not worth a reset
    assert r.fps == 19
