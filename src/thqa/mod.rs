//! The `thqa` element: a pass-through talking-head quality monitor.

use gst::glib;
use gst::prelude::*;

mod clip_score;
mod estimate;
mod features;
mod imp;
pub(crate) mod model;
mod patches;
mod v3_coeffs;

/// The default quality model, embedded in the plugin (see `models/thqa.md`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/thqa.onnx");

/// What gives the `score` (the `scorer` property).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstThqaScorer")]
pub enum Scorer {
    /// The network at `model-location` when it is set, else v3.
    #[default]
    #[enum_value(
        name = "Auto: the network at model-location if set, else v3",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "v3: the compression and resolution estimates mapped to VMAF/20",
        nick = "v3"
    )]
    V3 = 1,
    #[enum_value(
        name = "Network: the ONNX model (model-location, else the embedded v2)",
        nick = "network"
    )]
    Network = 2,
}

glib::wrapper! {
    pub struct Thqa(ObjectSubclass<imp::Thqa>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    #[cfg(feature = "doc")]
    Scorer::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "thqa", gst::Rank::NONE, Thqa::static_type())
}
