//! The `ntiresr` element: I420 or NV12 in, the same format at 4x width and height out.

use gst::glib;
use gst::prelude::*;

mod caps;
mod continuity;
pub(crate) mod engine;
mod imp;

pub use engine::network::{Backend, Precision};

/// The default model (`preset=fidelity`), embedded in the plugin (see `models/README.md`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/ntiresr.onnx");

/// The `preset=detail` model, embedded too: the same network trained with more weight on what
/// viewers notice (see `models/README.md`).
pub const EMBEDDED_DETAIL_MODEL: &[u8] = include_bytes!("../../models/ntiresr-detail.onnx");

glib::wrapper! {
    pub struct NtireSr(ObjectSubclass<imp::NtireSr>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Which embedded model runs (the `preset` property) when no `model-location` is set.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstNtireSrPreset")]
pub enum Preset {
    #[default]
    #[enum_value(
        name = "Fidelity: closest to the original (PSNR), with perceptual gains on top",
        nick = "fidelity"
    )]
    Fidelity = 0,
    #[enum_value(
        name = "Detail: crisper texture and edges (VMAF, LPIPS) at some cost in PSNR",
        nick = "detail"
    )]
    Detail = 1,
}

impl Preset {
    /// The embedded model of this preset: its name in messages, its bytes.
    pub fn embedded_model(self) -> (&'static str, &'static [u8]) {
        match self {
            Preset::Fidelity => (crate::onnx::EMBEDDED_NAME, EMBEDDED_MODEL),
            Preset::Detail => ("(embedded detail)", EMBEDDED_DETAIL_MODEL),
        }
    }
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    #[cfg(feature = "doc")]
    {
        Backend::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
        Precision::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
        Preset::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    }
    gst::Element::register(
        Some(plugin),
        "ntiresr",
        gst::Rank::NONE,
        NtireSr::static_type(),
    )
}
