//! Whole pipelines as users run them, with the embedded model, and failures on the bus.

mod common;

use common::*;
use gst::prelude::*;

/// Runs `description` to EOS or error; returns the error text, if any.
fn run(description: &str) -> Result<gst::Bin, String> {
    run_pipeline(description, |_| {})
}

#[test]
fn h265_to_h264_pipeline_keeps_every_frame() {
    let pipeline = run(
        "videotestsrc num-buffers=6 pattern=ball ! video/x-raw,format=I420,width=64,height=36,framerate=25/1 \
         ! x265enc speed-preset=ultrafast tune=zerolatency ! h265parse ! avdec_h265 \
         ! ntiresr name=sr ! x264enc speed-preset=ultrafast ! fakesink name=sink",
    )
    .unwrap();
    let pipeline = pipeline.downcast::<gst::Bin>().unwrap();
    let stats = pipeline
        .by_name("sr")
        .unwrap()
        .property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 6, "{stats}");
}

#[test]
fn missing_model_fails_with_its_path() {
    let err =
        run("videotestsrc num-buffers=1 ! ntiresr model-location=/nonexistent/m.onnx ! fakesink")
            .unwrap_err();
    assert!(err.contains("/nonexistent/m.onnx"), "{err}");
}

#[test]
fn corrupt_model_fails_with_its_path() {
    let path = std::env::temp_dir().join("ntiresr-corrupt.onnx");
    std::fs::write(&path, b"\x08\x07garbage").unwrap();
    let err = run(&format!(
        "videotestsrc num-buffers=1 ! ntiresr model-location={} ! fakesink",
        path.display()
    ))
    .unwrap_err();
    assert!(err.contains("ntiresr-corrupt.onnx"), "{err}");
}

// With the `cuda` feature the backend exists: these check the build without it.
#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_cuda_fails_cleanly() {
    let err = run(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,width=16,height=16 ! ntiresr backend=cuda model-location={} ! fakesink",
        tiny_model()
    ))
    .unwrap_err();
    assert!(err.to_lowercase().contains("cuda"), "{err}");
}
