//! Caps arithmetic: the sizes the element takes and gives (any output from the input's size to
//! 4x it on each side), and the mapping of caps from one pad to the other.

use gst::glib;

/// The largest scaling factor of width and height, and the one chosen when downstream does not
/// care.
pub const FACTOR: i32 = 4;
/// Smallest accepted input width or height.
pub const MIN_IN: i32 = 8;
/// Largest accepted input width or height.
pub const MAX_IN: i32 = 1920;

/// Maps an inclusive size range on one side to the range of sizes the other side may have,
/// clamped to what the element supports; `None` if nothing in the range is supported. An input
/// of `v` gives outputs from `v` to `4 v`; an output of `v` takes inputs from `ceil(v / 4)` to `v`.
pub fn map_range(min: i32, max: i32, to_output: bool) -> Option<(i32, i32)> {
    let (lo, hi) = if to_output {
        let (lo, hi) = (min.max(MIN_IN), max.min(MAX_IN));
        if lo > hi {
            return None;
        }
        (lo, hi.saturating_mul(FACTOR))
    } else {
        (
            // ceil(min / FACTOR) without the overflow of `min + FACTOR - 1` near i32::MAX.
            ((min.max(1) - 1) / FACTOR + 1).max(MIN_IN),
            max.min(MAX_IN),
        )
    };
    (lo <= hi).then_some((lo, hi))
}

/// Maps caps of one pad to the other pad's (`to_output`: sink to src): width and height scaled,
/// every other field kept; structures with no supported size are dropped.
pub fn transform(caps: &gst::Caps, to_output: bool) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    for s in caps.iter() {
        let mut s = s.to_owned();
        let ok = ["width", "height"]
            .iter()
            .all(|f| map_dimension(&mut s, f, to_output));
        if ok {
            out.get_mut().unwrap().append_structure(s);
        }
    }
    out
}

/// Rewrites a caps field `width` or `height` (fixed, range or list) to the other side's value;
/// `false` if no value of the field is supported.
fn map_dimension(s: &mut gst::Structure, field: &str, to_output: bool) -> bool {
    let Ok(value) = s.value(field) else {
        // An unconstrained side: allow the whole supported range.
        let (lo, hi) = map_range(1, i32::MAX, to_output).unwrap();
        s.set(field, gst::IntRange::new(lo, hi));
        return true;
    };
    let Some(ranges) = spans(value) else {
        return false;
    };
    // Several values map to one covering range, not to a list of ranges: GStreamer's caps merge
    // reads list items as ints (a GLib critical with ranges), and the fixation picks the size.
    let mapped: Vec<(i32, i32)> = ranges
        .into_iter()
        .filter_map(|(lo, hi)| map_range(lo, hi, to_output))
        .collect();
    let (Some(lo), Some(hi)) = (
        mapped.iter().map(|r| r.0).min(),
        mapped.iter().map(|r| r.1).max(),
    ) else {
        return false;
    };
    if lo == hi {
        s.set(field, lo);
    } else {
        s.set(field, gst::IntRange::new(lo, hi));
    }
    true
}

/// The sizes a caps value allows, as inclusive spans: a fixed value, a range, or a list of
/// either; `None` for any other kind of value.
fn spans(value: &glib::SendValue) -> Option<Vec<(i32, i32)>> {
    let span = |v: &glib::Value| {
        v.get::<i32>()
            .map(|v| (v, v))
            .or_else(|_| v.get::<gst::IntRange<i32>>().map(|r| (r.min(), r.max())))
            .ok()
    };
    match value.get::<gst::List>() {
        Ok(list) => Some(list.iter().filter_map(|v| span(v)).collect()),
        Err(_) => span(value).map(|s| vec![s]),
    }
}

/// Fixes `field` of `s` (one of the other pad's candidate structures) at its allowed value
/// nearest to `wanted`: a fixed value, a range, or a list of either (a peer's caps may hold lists
/// of ranges, which GStreamer's `fixate_field_nearest_int` reads as ints).
pub fn fixate_nearest(s: &mut gst::StructureRef, field: &str, wanted: i32) {
    let Some(spans) = s.value(field).ok().and_then(spans) else {
        return;
    };
    let nearest = spans
        .into_iter()
        .map(|(lo, hi)| wanted.clamp(lo, hi))
        .min_by_key(|&v| (i64::from(v) - i64::from(wanted)).abs());
    if let Some(v) = nearest {
        s.set(field, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_gives_one_to_four_times_its_size() {
        assert_eq!(map_range(480, 480, true), Some((480, 1920)));
        assert_eq!(map_range(271, 271, true), Some((271, 1084)));
        assert_eq!(map_range(7, 7, true), None);
        assert_eq!(map_range(7, 10, true), Some((8, 40)));
        assert_eq!(map_range(1921, 1921, true), None);
        assert_eq!(map_range(1, i32::MAX, true), Some((8, 7680)));
    }

    #[test]
    fn an_output_takes_a_quarter_of_its_size_to_all_of_it() {
        assert_eq!(map_range(1920, 1920, false), Some((480, 1920)));
        assert_eq!(map_range(1081, 1081, false), Some((271, 1081)));
        assert_eq!(map_range(7680, 7680, false), Some((1920, 1920)));
        assert_eq!(map_range(100, 200, false), Some((25, 200)));
        assert_eq!(map_range(1, 7, false), None);
        assert_eq!(map_range(7681, 9000, false), None);
        assert_eq!(map_range(1, i32::MAX, false), Some((8, 1920)));
    }

    #[test]
    fn absurd_ranges_neither_overflow_nor_wrap() {
        let (big, max) = (i32::MAX - 1, i32::MAX);
        assert_eq!(map_range(big, max, false), None);
        assert_eq!(map_range(big, max, true), None);
        assert_eq!(map_range(i32::MIN, max, true), Some((8, 7680)));
        assert_eq!(map_range(i32::MIN, i32::MIN, false), None);
    }

    fn caps(s: &str) -> gst::Caps {
        s.parse().unwrap()
    }

    #[test]
    fn caps_map_both_ways_keeping_the_other_fields() {
        gst::init().unwrap();
        let out = transform(
            &caps("video/x-raw,format=I420,width=480,height=270,framerate=30/1"),
            true,
        );
        assert_eq!(
            out,
            caps("video/x-raw,format=I420,width=[480,1920],height=[270,1080],framerate=30/1")
        );
        let back = transform(&caps("video/x-raw,width=1920,height=1080"), false);
        assert_eq!(back, caps("video/x-raw,width=[480,1920],height=[270,1080]"));
        let listed = transform(&caps("video/x-raw,width={ 100, 2000 },height=50"), true);
        assert_eq!(listed, caps("video/x-raw,width=[100,400],height=[50,200]"));
        assert!(transform(&caps("video/x-raw,width=4,height=50"), true).is_empty());
    }

    #[test]
    fn fixation_takes_the_nearest_allowed_size_of_lists_of_ranges() {
        gst::init().unwrap();
        let mut c = caps("video/x-raw,width={ [100,400], [2000,7680] },height=[50,200]");
        let s = c.make_mut().structure_mut(0).unwrap();
        fixate_nearest(s, "width", 1500);
        fixate_nearest(s, "height", 300);
        assert_eq!(s.get::<i32>("width").unwrap(), 2000);
        assert_eq!(s.get::<i32>("height").unwrap(), 200);
    }
}
