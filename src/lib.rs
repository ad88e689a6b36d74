//! ntiresr: x4 super-resolution and H.265 artifact removal for talking-head video, as a
//! GStreamer element run by tract on the CPU (or CUDA with the `cuda` feature).
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

#[cfg(feature = "cuda")]
extern crate tract_cuda;

use gst::glib;

pub mod continuity;
pub mod network;
mod ntiresr;
pub mod planes;
pub mod scale;
pub mod stats;
pub mod upscaler;

/// The default model, embedded in the plugin (see `models/README.md`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../models/ntiresr.onnx");

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ntiresr::register(plugin)
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
