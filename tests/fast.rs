//! The plugin's own kernels against tract, through the upscaler as the element runs them: the
//! same residual (within 1e-5) frame after frame, in bands and on the whole frame, for the
//! shipped model, odd sizes and a model they must refuse.

mod common;

use common::{data, max_abs_diff, step_upscaler};
use gstntiresr::testing::{Backend, Network, Precision, Session, Upscaler};

fn check_fast_matches_tract(network: &Network, width: u32, height: u32, threads: usize) {
    let (w, h) = (width as usize, height as usize);
    let mut fast =
        Upscaler::new(network, w, h, Backend::Cpu, Precision::Fp32, threads, false).unwrap();
    let mut tract = Upscaler::new(
        network,
        w,
        h,
        Backend::Tract,
        Precision::Fp32,
        threads,
        false,
    )
    .unwrap();
    assert!(
        fast.kernels().starts_with("own kernels"),
        "{}",
        fast.kernels()
    );
    assert_eq!(tract.kernels(), "tract");
    for t in 0..4 {
        let input = common::frame(width, height, t);
        step_upscaler(&mut fast, &input, width, height);
        step_upscaler(&mut tract, &input, width, height);
        let worst = max_abs_diff(fast.residual(), tract.residual());
        assert!(
            worst <= 1e-5,
            "{width}x{height}, frame {t}: differ by {worst}"
        );
    }
}

#[test]
fn shipped_model_on_own_kernels_matches_tract() {
    let network = Network::from_bytes("embedded", gstntiresr::testing::EMBEDDED_MODEL).unwrap();
    check_fast_matches_tract(&network, 480, 270, 2);
    check_fast_matches_tract(&network, 97, 55, 1);
}

#[test]
fn test_model_on_own_kernels_matches_tract() {
    let network = Network::from_file(&data("tiny.onnx")).unwrap();
    check_fast_matches_tract(&network, 270, 480, 2);
}

#[test]
fn a_model_the_own_kernels_do_not_cover_runs_on_tract_and_says_why() {
    let network = Network::from_file(&data("global_mean.onnx")).unwrap();
    let session = Session::new(&network, (8, 6), Backend::Cpu, Precision::Fp32, None).unwrap();
    let kernels = session.kernels();
    assert!(
        kernels.starts_with("tract (") && kernels.contains("ReduceMean"),
        "{kernels}"
    );
}
