//! The `thqa` element: a pass-through talking-head quality monitor.

use gst::glib;
use gst::prelude::*;

mod clip_score;
mod imp;
pub(crate) mod model;
mod patches;

/// The default quality model, embedded in the plugin (see `models/thqa.md`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/thqa.onnx");

glib::wrapper! {
    pub struct Thqa(ObjectSubclass<imp::Thqa>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "thqa", gst::Rank::NONE, Thqa::static_type())
}
