//! Running the network in bands of rows on several cores gives what one run on the whole frame
//! gives, frame after frame (the recurrent state crosses the band seams).

mod common;

use common::data;
use gstntiresr::network::{Backend, Network};
use gstntiresr::planes::Plane;
use gstntiresr::upscaler::Upscaler;

/// Frame `t` of a moving, textured I420 sequence: Y, U, V.
fn frame(width: usize, height: usize, t: usize) -> [Vec<u8>; 3] {
    let texture = |x: usize, y: usize, k: usize| {
        let h = (x * 7919 + y * 104_729 + k * 31 + t * 13) as u32;
        let h = h.wrapping_mul(2_654_435_761) >> 27;
        ((x + 3 * t) * 255 / width + (y * 128 / height) + h as usize) as u8
    };
    let plane = |w: usize, h: usize, k: usize| {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| texture(x, y, k)))
            .collect::<Vec<u8>>()
    };
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    [plane(width, height, 0), plane(cw, ch, 1), plane(cw, ch, 2)]
}

fn planes(frame: &[Vec<u8>; 3], width: usize, height: usize) -> [Plane<'_>; 3] {
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    [(0, width, height), (1, cw, ch), (2, cw, ch)].map(|(k, width, height)| Plane {
        data: &frame[k][..],
        stride: width,
        width,
        height,
    })
}

/// Runs `network` on six frames of `width x height` in two bands and on the whole frame, and
/// compares their residuals after every frame.
fn check_bands_match_whole_frame(network: &Network, width: usize, height: usize) {
    assert!(network.reach().is_some(), "{} is local", network.name());
    let mut whole = Upscaler::new(network, width, height, Backend::Cpu, 1).unwrap();
    let mut banded = Upscaler::new(network, width, height, Backend::Cpu, 2).unwrap();
    assert_eq!((whole.band_count(), banded.band_count()), (1, 2));
    for t in 0..6 {
        let input = frame(width, height, t);
        whole.step(planes(&input, width, height)).unwrap();
        banded.step(planes(&input, width, height)).unwrap();
        let worst = whole
            .residual()
            .iter()
            .zip(banded.residual())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // Same sums on the same inputs; only the order of additions may differ.
        assert!(worst <= 1e-5, "frame {t}: residuals differ by {worst}");
    }
}

#[test]
fn shipped_model_in_bands_matches_whole_frame() {
    let network = Network::from_bytes("embedded", gstntiresr::EMBEDDED_MODEL).unwrap();
    check_bands_match_whole_frame(&network, 480, 270);
}

#[test]
fn recurrent_test_model_in_bands_matches_whole_frame() {
    // Random weights: its state feeds strongly into every output, so a wrong halo state shows.
    let network = Network::from_file(&data("tiny.onnx")).unwrap();
    check_bands_match_whole_frame(&network, 96, 70);
}

#[test]
fn reach_of_the_test_model_is_measured() {
    // tiny.onnx: three 3x3 convs at low-res luma resolution, a 3x3 conv on the grid and the
    // 2x2 stride-2 read-out. A change in grid row r moves luma rows 2r..2r+1, the three convs
    // carry it 3 luma rows further (grid rows r-2..r+2), the read-out keeps that, and the state
    // it writes feeds the next step: one step reaches 2 grid rows.
    let network = Network::from_file(&data("tiny.onnx")).unwrap();
    assert_eq!(network.reach(), Some(2));
}

#[test]
fn a_model_that_is_not_local_runs_on_the_whole_frame() {
    // tiny.onnx plus the mean of the whole frame added to its residual
    // (training/make_global_model.py): every output row depends on every input row.
    let network = Network::from_file(&data("global_mean.onnx")).unwrap();
    assert_eq!(network.reach(), None);
    let mut upscaler = Upscaler::new(&network, 96, 70, Backend::Cpu, 2).unwrap();
    assert_eq!(upscaler.band_count(), 1);
    let input = frame(96, 70, 0);
    upscaler.step(planes(&input, 96, 70)).unwrap();
}
