//! Running the network in bands of rows on several cores gives what one run on the whole frame
//! gives, frame after frame (the recurrent state crosses the band seams).

mod common;

use common::{data, max_abs_diff, step_upscaler};
use gstntiresr::testing::Upscaler;
use gstntiresr::testing::{Backend, Network, Precision};

/// Runs `network` on six frames of `width x height` in two bands and on the whole frame, and
/// compares their residuals after every frame.
fn check_bands_match_whole_frame(network: &Network, width: u32, height: u32) {
    assert!(network.reach().is_some(), "{} is local", network.name());
    let (w, h) = (width as usize, height as usize);
    let mut whole = Upscaler::new(network, w, h, Backend::Cpu, Precision::Fp32, 1, false).unwrap();
    let mut banded = Upscaler::new(network, w, h, Backend::Cpu, Precision::Fp32, 2, false).unwrap();
    assert_eq!((whole.band_count(), banded.band_count()), (1, 2));
    for t in 0..6 {
        let input = common::frame(width, height, t);
        step_upscaler(&mut whole, &input, width, height);
        step_upscaler(&mut banded, &input, width, height);
        let worst = max_abs_diff(whole.residual(), banded.residual());
        // Same sums on the same inputs; only the order of additions may differ.
        assert!(worst <= 1e-5, "frame {t}: residuals differ by {worst}");
    }
}

#[test]
fn shipped_model_in_bands_matches_whole_frame() {
    let network = Network::from_bytes("embedded", gstntiresr::testing::EMBEDDED_MODEL).unwrap();
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
    // tiny.onnx is the retired NtireSR with 4 channels and one body block, all on the chroma
    // grid: a 3x3 head and a 3x3 body conv, then a 1x1 tail writing the residual and the state.
    // A change in grid row r reaches rows r-1..r+1 after the head and r-2..r+2 after the body;
    // the 1x1 tail keeps that: one step reaches 2 grid rows.
    let network = Network::from_file(&data("tiny.onnx")).unwrap();
    assert_eq!(network.reach(), Some(2));
}

#[test]
fn a_model_that_is_not_local_runs_on_the_whole_frame() {
    // tiny.onnx plus the mean of the whole frame added to its residual
    // (tests/data/make/global_model.py): every output row depends on every input row.
    let network = Network::from_file(&data("global_mean.onnx")).unwrap();
    assert_eq!(network.reach(), None);
    let mut upscaler =
        Upscaler::new(&network, 96, 70, Backend::Cpu, Precision::Fp32, 2, false).unwrap();
    assert_eq!(upscaler.band_count(), 1);
    step_upscaler(&mut upscaler, &common::frame(96, 70, 0), 96, 70);
}

#[test]
fn a_model_with_a_stride_2_conv_runs_bands_from_even_rows() {
    // stride2.onnx (tests/data/make/stride2_model.py): a stride-2 3x3 conv on the grid, brought
    // back by nearest x2; a band starting on an odd row would sample other rows: a seam.
    let network = Network::from_file(&data("stride2.onnx")).unwrap();
    let locality = network.locality().expect("local");
    assert_eq!(locality.period, 2, "{locality:?}");
    // Grids of 35 and 37 rows: with the halo, one of them puts the second band's start on an
    // odd row unless it is aligned.
    check_bands_match_whole_frame(&network, 96, 70);
    check_bands_match_whole_frame(&network, 96, 74);
}

#[test]
fn plain_convolutions_have_period_one() {
    let network = Network::from_file(&data("tiny.onnx")).unwrap();
    assert_eq!(network.locality().map(|l| l.period), Some(1));
}
