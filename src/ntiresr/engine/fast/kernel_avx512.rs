//! AVX-512F kernel: 16 output channels of a pixel in one zmm, a strip of `NP` pixels in `NP`
//! accumulators; per (tap, input channel) one weight vector load and `NP` broadcast FMAs.

use super::layer::{BLOCK, ConvLayer, EpiRt, RowIo, strips};
use super::view::PointOp;
use std::arch::x86_64::*;

/// Pixels per strip: 16 accumulators + 1 weight register (of 32), enough independent FMA chains
/// to hide the latency on two FMA pipes.
const NP: usize = 16;

/// # Safety
/// As `conv::conv_row`, and the CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn conv_row(l: &ConvLayer, io: &RowIo, epi: &[EpiRt]) {
    {
        for co0 in (0..l.cs_out).step_by(BLOCK) {
            // The pixel stride as a constant where common: the strip's input addresses are
            // then one base register plus immediate offsets.
            let pix = l.sx * io.in_cs;
            strips(l.ow, NP, |x, full| unsafe {
                match (full, pix) {
                    (true, 16) => strip::<NP, 16>(l, io, epi, x, co0),
                    (true, 32) => strip::<NP, 32>(l, io, epi, x, co0),
                    (true, 8) => strip::<NP, 8>(l, io, epi, x, co0),
                    (true, 6) => strip::<NP, 6>(l, io, epi, x, co0),
                    (true, _) => strip::<NP, 0>(l, io, epi, x, co0),
                    (false, _) => strip::<1, 0>(l, io, epi, x, co0),
                }
            });
        }
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn strip<const N: usize, const PIX: usize>(
    l: &ConvLayer,
    io: &RowIo,
    epi: &[EpiRt],
    x0: usize,
    co0: usize,
) {
    unsafe {
        let b = _mm512_loadu_ps(l.bias.as_ptr().add(co0));
        let mut acc = [b; N];
        let pix = if PIX > 0 { PIX } else { l.sx * io.in_cs } as isize;
        for ky in 0..l.kh {
            for kx in 0..l.kw {
                let ix = (x0 * l.sx + kx) as isize - l.pad_x as isize;
                let ip = io.rin[ky].offset(ix * io.in_cs as isize);
                let wp = l.w.as_ptr().add((ky * l.kw + kx) * l.cin * l.cs_out + co0);
                for ci in 0..l.cin {
                    let wv = _mm512_loadu_ps(wp.add(ci * l.cs_out));
                    let xp = ip.add(ci);
                    for (p, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_fmadd_ps(wv, _mm512_set1_ps(*xp.offset(p as isize * pix)), *a);
                    }
                }
            }
        }
        for (p, &a) in acc.iter().enumerate() {
            let off = (x0 + p) * l.cs_out + co0;
            let v = epilogue(a, epi, off);
            _mm512_storeu_ps(io.out.add(off), v);
        }
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
pub(super) unsafe fn epilogue(mut v: __m512, epi: &[EpiRt], off: usize) -> __m512 {
    for e in epi {
        v = match *e {
            EpiRt::Point(PointOp::Affine(m, a)) => {
                _mm512_fmadd_ps(v, _mm512_set1_ps(m), _mm512_set1_ps(a))
            }
            EpiRt::Point(PointOp::Leaky(alpha)) => {
                let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, _mm512_setzero_ps());
                _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(alpha))
            }
            EpiRt::Point(PointOp::Relu) => _mm512_max_ps(v, _mm512_setzero_ps()),
            EpiRt::Point(PointOp::Clip(lo, hi)) => {
                _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lo)), _mm512_set1_ps(hi))
            }
            EpiRt::Add(src) => _mm512_add_ps(v, unsafe { _mm512_loadu_ps(src.add(off)) }),
        };
    }
    v
}
