//! The `thqa` element: a pass-through talking-head quality monitor.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Thqa(ObjectSubclass<imp::Thqa>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "thqa", gst::Rank::NONE, Thqa::static_type())
}
