//! The `ntiresr` element: I420 in, I420 at 4x width and height out.

use gst::glib;
use gst::prelude::*;

mod caps;
mod continuity;
pub(crate) mod engine;
mod imp;

/// The default model, embedded in the plugin (see `models/README.md`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/ntiresr.onnx");

glib::wrapper! {
    pub struct NtireSr(ObjectSubclass<imp::NtireSr>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Where the network runs (the `backend` property).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstNtireSrBackend")]
pub enum Backend {
    #[default]
    #[enum_value(
        name = "CPU: the plugin's own SIMD kernels where they cover the model, tract otherwise",
        nick = "cpu"
    )]
    Cpu = 0,
    #[enum_value(
        name = "CUDA: tract-cuda (needs the `cuda` cargo feature and a CUDA driver)",
        nick = "cuda"
    )]
    Cuda = 1,
    #[enum_value(
        name = "CPU: tract alone (the reference the own kernels are checked against)",
        nick = "tract"
    )]
    Tract = 2,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    #[cfg(feature = "doc")]
    Backend::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "ntiresr",
        gst::Rank::NONE,
        NtireSr::static_type(),
    )
}
