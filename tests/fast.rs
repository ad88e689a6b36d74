//! The plugin's own kernels against tract, through the upscaler as the element runs them: the
//! same residual (within 1e-5) frame after frame, in bands and on the whole frame, for the
//! shipped model, odd sizes and a model they must refuse.

mod common;

use common::data;
use gst_video::prelude::*;
use gstntiresr::testing::{Backend, Network, Plane, Session, Upscaler};

fn step(upscaler: &mut Upscaler, buffer: &gst::Buffer, width: u32, height: u32) {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
        .build()
        .unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
    let planes: [Plane; 3] = std::array::from_fn(|p| Plane {
        data: frame.plane_data(p as u32).unwrap(),
        stride: frame.plane_stride()[p] as usize,
        step: 1,
        width: frame.comp_width(p as u32) as usize,
        height: frame.comp_height(p as u32) as usize,
    });
    upscaler.step(planes).unwrap();
}

fn check_fast_matches_tract(network: &Network, width: u32, height: u32, threads: usize) {
    let (w, h) = (width as usize, height as usize);
    let mut fast = Upscaler::new(network, w, h, Backend::Cpu, threads, false).unwrap();
    let mut tract = Upscaler::new(network, w, h, Backend::Tract, threads, false).unwrap();
    assert!(fast.kernels().starts_with("own kernels"), "{}", fast.kernels());
    assert_eq!(tract.kernels(), "tract");
    for t in 0..4 {
        let input = common::frame(width, height, t);
        step(&mut fast, &input, width, height);
        step(&mut tract, &input, width, height);
        let worst = fast
            .residual()
            .iter()
            .zip(tract.residual())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{width}x{height}, frame {t}: differ by {worst}");
    }
}

#[test]
fn shipped_model_on_own_kernels_matches_tract() {
    let network =
        Network::from_bytes("embedded", gstntiresr::testing::EMBEDDED_MODEL).unwrap();
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
    let session = Session::new(&network, (8, 6), Backend::Cpu, 1).unwrap();
    let kernels = session.kernels();
    assert!(kernels.starts_with("tract (") && kernels.contains("ReduceMean"), "{kernels}");
}
