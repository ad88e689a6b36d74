//! ntiresr: x4 super-resolution and H.265 artifact removal for talking-head video, as a
//! GStreamer element whose network runs on the CPU by the plugin's own SIMD kernels (tract loads
//! and checks it, and runs what the kernels do not cover; CUDA with the `cuda` feature), and
//! `thqa`, a pass-through monitor that scores talking-head video quality live.
//!
//! Elements: [`ntiresr`](ntiresr/imp/index.html) and [`thqa`](thqa/imp/index.html); their
//! models are embedded, their contracts in `models/README.md` and `models/thqa.md`.

// Each element's doc block (`/** element-...: */`, gst-plugins-rs style, read by hotdoc) stands
// before its first `use`, where rustc does not attach it.
#![allow(unused_doc_comments)]

#[cfg(feature = "cuda")]
extern crate tract_cuda;

use gst::glib;

mod ntiresr;
mod onnx;
mod ready_only;
mod stats;
mod thqa;

/// Internals the integration tests drive directly; not an API.
#[doc(hidden)]
pub mod testing {
    pub use crate::ntiresr::engine::fast::{DEFAULT_ROWS_PER_SWEEP, FastNet, Isa, peak_gflops};
    pub use crate::ntiresr::engine::network::{Backend, Network, Precision};
    pub use crate::ntiresr::engine::planes::{Plane, PlaneMut};
    pub use crate::ntiresr::engine::session::Session;
    pub use crate::ntiresr::engine::upscaler::Upscaler;
    pub use crate::ntiresr::{EMBEDDED_DETAIL_MODEL, EMBEDDED_MODEL};
    pub use crate::onnx::ModelError;
    pub use crate::thqa::EMBEDDED_MODEL as EMBEDDED_QUALITY_MODEL;
    pub use crate::thqa::model::QualityModel;
}

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ntiresr::register(plugin)?;
    thqa::register(plugin)
}

gst::plugin_define!(
    ntiresr,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    // GStreamer's name for MIT; the crate is MIT OR Apache-2.0 (LICENSE-MIT, LICENSE-APACHE).
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    // No public home yet: GStreamer's own wording for that.
    "Unknown package origin",
    env!("BUILD_REL_DATE")
);
