//! ntiresr: x4 super-resolution and H.265 artifact removal for talking-head video, as a
//! GStreamer element run by tract on the CPU (or CUDA with the `cuda` feature), and `thqa`, a
//! pass-through monitor that scores talking-head video quality live.
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

#[cfg(feature = "cuda")]
extern crate tract_cuda;

use gst::glib;

pub mod bands;
pub mod clip_score;
pub mod continuity;
pub mod mirror;
pub mod network;
mod ntiresr;
pub mod onnx;
pub mod patches;
pub mod planes;
pub mod quality;
pub mod scale;
pub mod stats;
pub mod stream;
mod thqa;
pub mod upscaler;

/// The default model, embedded in the plugin (see `models/README.md`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../models/ntiresr.onnx");

/// The default quality model of `thqa`, embedded in the plugin (see `models/thqa.md`).
pub const EMBEDDED_QUALITY_MODEL: &[u8] = include_bytes!("../models/thqa.onnx");

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ntiresr::register(plugin)?;
    thqa::register(plugin)
}

gst::plugin_define!(
    ntiresr,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
