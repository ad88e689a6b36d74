//! A buffer's rows at run time: a ring of `depth` rows addressed modulo the depth, with zero
//! border columns and a shared zero row outside the tensor; and its bf16 twin for the bf16 path.

use super::plan::BORDER;

/// A buffer at run time: `depth` rows of `row` floats (row r in slot r % depth), `h` rows in all.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ring {
    pub base: *mut f32,
    pub row: usize,
    pub cs: usize,
    pub depth: usize,
    pub h: usize,
    /// A row of zeros at least `row` long (rows above and below the tensor).
    pub zero: *const f32,
}

impl Ring {
    /// Pixel 0, channel 0 of row `r` (the zero row outside `0..h`).
    #[inline]
    pub fn row_ptr(&self, r: isize) -> *mut f32 {
        let start = if r < 0 || r as usize >= self.h {
            self.zero as *mut f32
        } else {
            // SAFETY: slot r % depth lies inside the ring.
            unsafe { self.base.add((r as usize % self.depth) * self.row) }
        };
        // SAFETY: the border columns are part of every row.
        unsafe { start.add(BORDER * self.cs) }
    }
}

/// The bf16 twin of a ring a bf16 conv writes and another reads whole: the writer's epilogue
/// stores each output vector also as bf16 pairs (`cs / 2` per pixel, zero border columns), so
/// the reader needs no rounding of its own.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bf16Ring {
    pub base: *mut u32,
    /// Pairs per row, the border columns included.
    pub row: usize,
    pub pairs: usize,
    pub depth: usize,
    pub h: usize,
    /// A row of zero pairs at least `row` long.
    pub zero: *const u32,
}

impl Bf16Ring {
    /// Pixel 0 of row `r` (the zero row outside `0..h`).
    #[inline]
    pub fn row_ptr(&self, r: isize) -> *mut u32 {
        let start = if r < 0 || r as usize >= self.h {
            self.zero as *mut u32
        } else {
            // SAFETY: slot r % depth lies inside the ring.
            unsafe { self.base.add((r as usize % self.depth) * self.row) }
        };
        // SAFETY: the border columns are part of every row.
        unsafe { start.add(BORDER * self.pairs) }
    }
}
