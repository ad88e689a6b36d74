//! AVX2+FMA kernel: 16 output channels of a pixel in two ymm, a strip of `NP` pixels in `2 NP`
//! accumulators; per (tap, input channel) two weight vector loads and `NP` broadcasts feeding
//! `2 NP` FMAs.

use super::layer::{BLOCK, ConvLayer, EpiRt, RowIo, strips};
use super::view::PointOp;
use std::arch::x86_64::*;

/// Pixels per strip: 12 accumulators + 2 weight registers + 1 broadcast (of 16).
const NP: usize = 6;

/// # Safety
/// As `conv::conv_row`, and the CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
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

#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn strip<const N: usize, const PIX: usize>(
    l: &ConvLayer,
    io: &RowIo,
    epi: &[EpiRt],
    x0: usize,
    co0: usize,
) {
    unsafe {
        let b0 = _mm256_loadu_ps(l.bias.as_ptr().add(co0));
        let b1 = _mm256_loadu_ps(l.bias.as_ptr().add(co0 + 8));
        let mut acc0 = [b0; N];
        let mut acc1 = [b1; N];
        let pix = if PIX > 0 { PIX } else { l.sx * io.in_cs } as isize;
        for ky in 0..l.kh {
            for kx in 0..l.kw {
                let ix = (x0 * l.sx + kx) as isize - l.pad_x as isize;
                let ip = io.rin[ky].offset(ix * io.in_cs as isize);
                let wp = l.w.as_ptr().add((ky * l.kw + kx) * l.cin * l.cs_out + co0);
                for ci in 0..l.cin {
                    let w0 = _mm256_loadu_ps(wp.add(ci * l.cs_out));
                    let w1 = _mm256_loadu_ps(wp.add(ci * l.cs_out + 8));
                    let xp = ip.add(ci);
                    for p in 0..N {
                        let xv = _mm256_broadcast_ss(&*xp.offset(p as isize * pix));
                        acc0[p] = _mm256_fmadd_ps(w0, xv, acc0[p]);
                        acc1[p] = _mm256_fmadd_ps(w1, xv, acc1[p]);
                    }
                }
            }
        }
        for p in 0..N {
            let off = (x0 + p) * l.cs_out + co0;
            _mm256_storeu_ps(io.out.add(off), epilogue(acc0[p], epi, off));
            _mm256_storeu_ps(io.out.add(off + 8), epilogue(acc1[p], epi, off + 8));
        }
    }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn epilogue(mut v: __m256, epi: &[EpiRt], off: usize) -> __m256 {
    for e in epi {
        v = match *e {
            EpiRt::Point(PointOp::Affine(m, a)) => {
                _mm256_fmadd_ps(v, _mm256_set1_ps(m), _mm256_set1_ps(a))
            }
            EpiRt::Point(PointOp::Leaky(alpha)) => {
                let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(v, _mm256_setzero_ps());
                _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(alpha)), neg)
            }
            EpiRt::Point(PointOp::Relu) => _mm256_max_ps(v, _mm256_setzero_ps()),
            EpiRt::Point(PointOp::Clip(lo, hi)) => {
                _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi))
            }
            EpiRt::Add(src) => _mm256_add_ps(v, unsafe { _mm256_loadu_ps(src.add(off)) }),
        };
    }
    v
}
