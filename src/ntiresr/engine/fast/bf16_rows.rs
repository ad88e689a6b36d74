//! The bf16 copy of a conv's input rows for the bf16 kernel: each input row rounded to bf16
//! pairs once per run, however many output rows read it (a 3x3 conv reads each row three times;
//! rounding it again each time cost a tenth of the network step).
//!
//! A ring of the source ring's depth: slot `r % depth` holds row `r` once rounded, and says which
//! row it holds, so a row is rounded again only when the source's slot moved on to another row.
//! [`Bf16Rows::reset`] forgets every row at the start of a run (the source rows are new).

use super::kernel_bf16::round_row;
use super::layer::ConvLayer;
use super::ring::Ring;

/// Rounded rows of one conv's input.
pub(super) struct Bf16Rows {
    /// `depth` rows of `row` pairs, then one row of zeros (the rows outside the input).
    buf: Vec<u32>,
    /// The input row each slot holds (None: nothing yet this run).
    held: Vec<Option<usize>>,
    /// Pairs per row: the pixels one output row's taps reach, from `-pad_x`, x `pairs`.
    row: usize,
    /// The first pixel's offset from the source row's pixel 0 (`-pad_x`).
    first: isize,
    cin: usize,
}

impl Bf16Rows {
    /// Rows for `l`'s input, read from a ring of `depth` rows.
    pub fn new(l: &ConvLayer, depth: usize) -> Bf16Rows {
        let npix = (l.ow - 1) * l.sx + l.kw;
        let row = npix * l.cin.div_ceil(2);
        Bf16Rows {
            buf: vec![0; (depth + 1) * row],
            held: vec![None; depth],
            row,
            first: -(l.pad_x as isize),
            cin: l.cin,
        }
    }

    /// Forgets every row (a new run: the source holds new rows).
    pub fn reset(&mut self) {
        self.held.fill(None);
    }

    /// Row `r` of `src` (outside `0..src.h`: zeros) as bf16 pairs, from pixel `-pad_x`; rounded
    /// now unless this run already did.
    ///
    /// # Safety
    /// Row `r` of `src` is present (the schedule's guarantee) and has not changed since this run
    /// rounded it; the CPU has AVX-512F and AVX512-BF16.
    pub unsafe fn row(&mut self, src: &Ring, r: isize) -> *const u32 {
        let depth = self.held.len();
        if r < 0 || r as usize >= src.h {
            return self.buf[depth * self.row..].as_ptr();
        }
        let r = r as usize;
        let slot = r % depth;
        let dst = &mut self.buf[slot * self.row..][..self.row];
        if self.held[slot] != Some(r) {
            // SAFETY: the source row holds every pixel the taps read (border columns
            // included), `npix` of them from `first`.
            unsafe {
                round_row(
                    src.row_ptr(r as isize).offset(self.first * src.cs as isize),
                    src.cs,
                    self.cin,
                    dst,
                )
            };
            self.held[slot] = Some(r);
        }
        dst.as_ptr()
    }
}
