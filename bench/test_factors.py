"""The per-factor benchmark's pure parts: sizes per factor, GStreamer's row padding, the report."""

import numpy as np

from bench.factors import input_size, mean_psnr, report, unpad_i420


def test_input_sizes_are_even_and_at_least_a_quarter():
    assert input_size(1920, 1080, 4) == (480, 270)
    assert input_size(1920, 1080, 3) == (640, 360)
    assert input_size(1920, 1080, 1.5) == (1280, 720)
    assert input_size(1080, 1920, 2) == (540, 960)
    assert input_size(960, 720, 1) == (960, 720)
    # 1936 / 4 = 484; rounding 1936 / 3.99 to even would give 486, never below a quarter anyway.
    assert input_size(100, 60, 4.5) == (26, 16)


def test_unpad_reads_gstreamer_rows():
    w, h = 6, 4  # luma rows padded 6 -> 8, chroma rows 3 -> 4
    frame = bytearray(8 * h + 2 * 4 * 2)
    for y in range(h):
        frame[y * 8: y * 8 + w] = bytes(range(y * 10, y * 10 + w))
    y = unpad_i420(bytes(frame) * 2, w, h)
    assert y.shape == (2, h, w)
    assert (y[1, 3] == np.arange(30, 36)).all()


def test_report_gives_the_mean_gain_and_the_worst_clip():
    rows = [{"clip": c, "factor": 2.0, "qp": 32, "bicubic": 30.0, "lanczos": 30.1, "ntiresr": 30.0 + g}
            for c, g in (("A", 0.5), ("B", -0.1))]
    text = report(rows, [{"factor": 2.0, "input": [960, 540], "fps": 12.34}])
    assert "| x2 | 32 | 30.00 | +0.100 | **+0.200** | -0.100 (B) |" in text
    assert "| x2 | 960x540 | 12.3 |" in text


def test_psnr_is_the_mean_of_whole_frames():
    ref = np.zeros((2, 4, 4), np.uint8)
    out = ref.copy()
    out[0, 0, :] = 10  # one row off in the first frame: 25 of MSE over 16 samples
    out[1] = 1
    want = (10 * np.log10(255**2 / (4 * 100 / 16)) + 10 * np.log10(255**2)) / 2
    assert abs(mean_psnr(ref, out) - want) < 1e-9
    assert abs(mean_psnr(ref, out[:1]) - 10 * np.log10(255**2 / 25)) < 1e-9
