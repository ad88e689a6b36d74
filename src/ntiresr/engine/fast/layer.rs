//! What a planned convolution is, shared by the kernels (`kernel.rs`, `kernel_bf16.rs`): the
//! layer's geometry and packed weights, the fused epilogue ops, the rows one output row reads and
//! writes, and the strips a row is cut into.
//!
//! Layout: activations are NHWC with a zero border (`BORDER` pixels on every side) and a channel
//! stride `cs`; a conv's output has `cs_out` = its channel count rounded up to 16 (one zmm, two
//! ymm), so each pixel's outputs are whole vectors. The kernels keep a strip of `NP` pixels x 16
//! output channels in registers, stream the weights (`[ky][kx][ci][cs_out]`, one vector per
//! (tap, input channel)) once per strip, and broadcast each input value once per tap.

use super::view::PointOp;

/// Output channels per register block (one zmm, two ymm).
pub(super) const BLOCK: usize = 16;

/// A planned conv: geometry, packed weights and the fused epilogue.
#[derive(Clone, Debug)]
pub(super) struct ConvLayer {
    pub kh: usize,
    pub kw: usize,
    pub sy: usize,
    pub sx: usize,
    pub pad_y: usize,
    pub pad_x: usize,
    pub cin: usize,
    pub cout: usize,
    pub cs_out: usize,
    pub oh: usize,
    pub ow: usize,
    /// `[ky][kx][ci][cs_out]`, zero in the padding channels.
    pub w: Vec<f32>,
    /// `[cs_out]`.
    pub bias: Vec<f32>,
    /// `w` as bf16 pairs for the bf16 kernel (`kernel_bf16::pack_weights`); empty otherwise.
    pub wb: Vec<u32>,
}

impl ConvLayer {
    /// Packs ONNX weights `[cout][cin][kh][kw]` (and an optional bias).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        w_onnx: &[f32],
        bias: Option<&[f32]>,
        (cout, cin, kh, kw): (usize, usize, usize, usize),
        (sy, sx): (usize, usize),
        (pad_y, pad_x): (usize, usize),
        (oh, ow): (usize, usize),
    ) -> ConvLayer {
        let cs_out = cout.div_ceil(BLOCK) * BLOCK;
        let mut w = vec![0.0; kh * kw * cin * cs_out];
        for co in 0..cout {
            for ci in 0..cin {
                for ky in 0..kh {
                    for kx in 0..kw {
                        w[((ky * kw + kx) * cin + ci) * cs_out + co] =
                            w_onnx[((co * cin + ci) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        let mut b = vec![0.0; cs_out];
        if let Some(bias) = bias {
            b[..cout].copy_from_slice(bias);
        }
        ConvLayer {
            kh,
            kw,
            sy,
            sx,
            pad_y,
            pad_x,
            cin,
            cout,
            cs_out,
            oh,
            ow,
            w,
            bias: b,
            wb: Vec::new(),
        }
    }

    /// Multiply-adds x 2 of one run.
    pub fn flop(&self) -> f64 {
        2.0 * (self.kh * self.kw * self.cin * self.cout * self.oh * self.ow) as f64
    }
}

/// Tallest kernel covered (rows of input pointers per output row).
pub(super) const KMAX: usize = 8;

/// A fused epilogue op at run time (after the bias).
#[derive(Clone, Copy, Debug)]
pub(super) enum EpiRt {
    Point(PointOp),
    /// Adds the same element of another buffer's row (same geometry as the output row).
    Add(*const f32),
}

/// What one output row reads and writes: the input rows of each kernel tap row (interior
/// origin, pixel 0 channel 0; rows outside the input are a row of zeros) and the output row.
#[derive(Clone, Copy, Debug)]
pub(super) struct RowIo {
    pub rin: [*const f32; KMAX],
    /// For the bf16 kernel: the same rows as bf16 pairs from pixel `-pad_x`
    /// (`bf16_rows::Bf16Rows`); null for the f32 kernels.
    pub rin_bf16: [*const u32; KMAX],
    pub in_cs: usize,
    pub out: *mut f32,
    /// For the bf16 kernel: where the output row goes also as bf16 pairs (a ring's twin,
    /// `ring::Bf16Ring`), or null.
    pub out_bf16: *mut u32,
}

/// One strip of a row (`x0`: its first pixel, `co0`: its first output channel).
pub(super) type StripFn = unsafe fn(&ConvLayer, &RowIo, &[EpiRt], usize, usize);

/// Strips of `np` pixels covering `0..ow`: full strips, then one last strip moved left so that it
/// ends at `ow` (recomputing a few pixels, which writes the same values), or single pixels when
/// the row is narrower than a strip.
#[inline(always)]
pub(super) fn strips(ow: usize, np: usize, mut f: impl FnMut(usize, bool)) {
    if ow < np {
        for x in 0..ow {
            f(x, false);
        }
        return;
    }
    let mut x = 0;
    while x + np <= ow {
        f(x, true);
        x += np;
    }
    if x < ow {
        f(ow - np, true);
    }
}
