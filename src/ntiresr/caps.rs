//! Caps arithmetic: the element's fixed x4 size relation, its size limits, and the mapping of
//! caps from one pad to the other.

use gst::glib;
use gst::prelude::*;

/// Upscaling factor of width and height.
pub const FACTOR: i32 = 4;
/// Smallest accepted input width or height.
pub const MIN_IN: i32 = 8;
/// Largest accepted input width or height.
pub const MAX_IN: i32 = 1920;

/// The output size for an input size, or `None` outside the supported range.
pub fn upscaled(width: i32, height: i32) -> Option<(i32, i32)> {
    let ok = |v: i32| (MIN_IN..=MAX_IN).contains(&v);
    (ok(width) && ok(height)).then(|| (width * FACTOR, height * FACTOR))
}

/// The input size for an output size, or `None` if it is not an exact x4 of a supported size.
pub fn downscaled(width: i32, height: i32) -> Option<(i32, i32)> {
    if width % FACTOR != 0 || height % FACTOR != 0 {
        return None;
    }
    let (w, h) = (width / FACTOR, height / FACTOR);
    upscaled(w, h).map(|_| (w, h))
}

/// Maps an inclusive size range on one side to the matching range on the other side, clamped to
/// what the element supports; `None` if nothing in the range is supported.
pub fn map_range(min: i32, max: i32, to_output: bool) -> Option<(i32, i32)> {
    let (lo, hi) = if to_output {
        (
            min.max(MIN_IN).saturating_mul(FACTOR),
            max.min(MAX_IN).saturating_mul(FACTOR),
        )
    } else {
        (
            // ceil(min / FACTOR) without the overflow of `min + FACTOR - 1` near i32::MAX.
            ((min.max(1) - 1) / FACTOR + 1).max(MIN_IN),
            (max / FACTOR).min(MAX_IN),
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

/// A range of sizes on one side: on the output side only multiples of [`FACTOR`], so that
/// intersecting it with other caps never leaves a size that has no input.
fn size_range(lo: i32, hi: i32, to_output: bool) -> gst::IntRange<i32> {
    if to_output {
        gst::IntRange::with_step(lo, hi, FACTOR)
    } else {
        gst::IntRange::new(lo, hi)
    }
}

/// Rewrites a caps field `width` or `height` (fixed, range or list) to the other side's value;
/// `false` if no value of the field is supported.
fn map_dimension(s: &mut gst::Structure, field: &str, to_output: bool) -> bool {
    let map_fixed = |v: i32| {
        if to_output {
            upscaled(v, v).map(|(o, _)| o)
        } else {
            downscaled(v, v).map(|(i, _)| i)
        }
    };
    let Ok(value) = s.value(field) else {
        // An unconstrained side: allow the whole supported range.
        let (lo, hi) = map_range(1, i32::MAX, to_output).unwrap();
        s.set(field, size_range(lo, hi, to_output));
        return true;
    };
    if let Ok(v) = value.get::<i32>() {
        return map_fixed(v).map(|v| s.set(field, v)).is_some();
    }
    if let Ok(r) = value.get::<gst::IntRange<i32>>() {
        return match map_range(r.min(), r.max(), to_output) {
            Some((lo, hi)) if lo == hi => {
                s.set(field, lo);
                true
            }
            Some((lo, hi)) => {
                s.set(field, size_range(lo, hi, to_output));
                true
            }
            None => false,
        };
    }
    if let Ok(list) = value.get::<gst::List>() {
        let mapped: Vec<glib::SendValue> = list
            .iter()
            .filter_map(|v| v.get::<i32>().ok().and_then(map_fixed))
            .map(|v| v.to_send_value())
            .collect();
        return match mapped.len() {
            0 => false,
            1 => {
                s.set_value(field, mapped[0].clone());
                true
            }
            _ => {
                s.set(field, gst::List::from_values(mapped));
                true
            }
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_scale_both_ways() {
        assert_eq!(upscaled(480, 270), Some((1920, 1080)));
        assert_eq!(upscaled(270, 480), Some((1080, 1920)));
        assert_eq!(upscaled(481, 271), Some((1924, 1084)));
        assert_eq!(upscaled(7, 100), None);
        assert_eq!(upscaled(1921, 100), None);
        assert_eq!(downscaled(1920, 1080), Some((480, 270)));
        assert_eq!(downscaled(1922, 1080), None);
        assert_eq!(downscaled(28, 1080), None);
    }

    #[test]
    fn ranges_map_and_clamp() {
        assert_eq!(map_range(1, i32::MAX, true), Some((32, 7680)));
        assert_eq!(map_range(1, i32::MAX, false), Some((8, 1920)));
        assert_eq!(map_range(100, 200, false), Some((25, 50)));
        assert_eq!(map_range(1, 20, false), None);
        assert_eq!(map_range(2000, 3000, true), None);
    }

    #[test]
    fn absurd_ranges_neither_overflow_nor_wrap() {
        let (big, max) = (i32::MAX - 1, i32::MAX);
        assert_eq!(map_range(big, max, false), None);
        assert_eq!(map_range(big, max, true), None);
        assert_eq!(map_range(1, max, false), Some((MIN_IN, MAX_IN)));
        assert_eq!(map_range(i32::MIN, max, true), Some((32, 7680)));
        assert_eq!(map_range(max - 3, max, false), None);
    }
}
