//! A buffer's rows at run time: a ring of `depth` rows addressed modulo the depth, with zero
//! border columns and a shared zero row outside the tensor. f32 for every buffer; u32 (bf16
//! pairs) for a buffer's bf16 twin on the bf16 path.

use super::plan::BORDER;

/// A buffer at run time: `depth` rows of `row` elements (row r in slot r % depth), `h` rows in
/// all, `cs` elements per pixel.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ring<T = f32> {
    pub base: *mut T,
    pub row: usize,
    pub cs: usize,
    pub depth: usize,
    pub h: usize,
    /// A row of zeros at least `row` long (rows above and below the tensor).
    pub zero: *const T,
}

/// The bf16 twin of a ring a bf16 conv writes and another reads whole: the writer's epilogue
/// stores each output vector also as bf16 pairs (`cs` = the buffer's channels / 2 per pixel,
/// zero border columns), so the reader needs no rounding of its own.
pub(super) type Bf16Ring = Ring<u32>;

impl<T> Ring<T> {
    /// Pixel 0, channel 0 of row `r` (the zero row outside `0..h`).
    #[inline]
    pub fn row_ptr(&self, r: isize) -> *mut T {
        let start = if r < 0 || r as usize >= self.h {
            self.zero as *mut T
        } else {
            // SAFETY: slot r % depth lies inside the ring.
            unsafe { self.base.add((r as usize % self.depth) * self.row) }
        };
        // SAFETY: the border columns are part of every row.
        unsafe { start.add(BORDER * self.cs) }
    }
}
