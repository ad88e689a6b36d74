//! AVX512-BF16 kernel: weights and inputs rounded to bf16, their products summed in f32 by
//! `vdpbf16ps`, two input channels per instruction (twice the fp32 FMA's work). 16 output
//! channels of a pixel in one zmm, a strip of `NP` pixels in `NP` accumulators; per (tap,
//! input-channel pair) one weight vector load and `NP` broadcasts of a bf16 pair. The input rows
//! are rounded to bf16 pairs once per run (`bf16_rows.rs`, with [`round_row`]), the weights once
//! when the network is planned ([`pack_weights`]).

use std::arch::x86_64::*;

use super::kernel::x86::epilogue_avx512 as epilogue;
use super::layer::{BLOCK, ConvLayer, EpiRt, RowIo, StripFn, strips};

/// Pixels per strip, as the fp32 AVX-512 kernel.
const NP: usize = 16;

/// `v` rounded to bf16 (to nearest, ties to even, as `vcvtne2ps2bf16`); NaN stays NaN.
pub(super) fn to_bf16(v: f32) -> u16 {
    let b = v.to_bits();
    if v.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// The bf16 pair of input channels `2 cp`, `2 cp + 1` (0 past `cin`) as `vdpbf16ps` reads it:
/// the even channel in the low half.
fn pair(lo: u16, hi: u16) -> u32 {
    lo as u32 | (hi as u32) << 16
}

/// The layer's weights as bf16 pairs, `[ky][kx][cin / 2][cs_out]` (an odd `cin` padded with 0).
pub(super) fn pack_weights(l: &ConvLayer) -> Vec<u32> {
    let pairs = l.cin.div_ceil(2);
    let mut out = vec![0u32; l.kh * l.kw * pairs * l.cs_out];
    for tap in 0..l.kh * l.kw {
        for cp in 0..pairs {
            for co in 0..l.cs_out {
                let w = |ci: usize| {
                    (ci < l.cin).then(|| to_bf16(l.w[(tap * l.cin + ci) * l.cs_out + co]))
                };
                out[(tap * pairs + cp) * l.cs_out + co] =
                    pair(w(2 * cp).unwrap_or(0), w(2 * cp + 1).unwrap_or(0));
            }
        }
    }
    out
}

/// # Safety
/// As `kernel::ConvRowFn`, with `io.rin_bf16` set and `io.out_bf16` null or a row of
/// `ow * cs_out / 2` pairs; `l.wb` holds [`pack_weights`]`(l)`, and the
/// CPU has AVX-512F and AVX512-BF16.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(super) unsafe fn conv_row(l: &ConvLayer, io: &RowIo, epi: &[EpiRt]) {
    let pairs = l.cin.div_ceil(2);
    // A pixel stride known at compile time makes the strip's input addresses one base register
    // plus immediate offsets (a runtime one spilt the 16 pixel pointers).
    let whole: StripFn = match l.sx * pairs {
        8 => strip::<NP, 8>,
        16 => strip::<NP, 16>,
        4 => strip::<NP, 4>,
        3 => strip::<NP, 3>,
        _ => strip::<NP, 0>,
    };
    for co0 in (0..l.cs_out).step_by(BLOCK) {
        strips(l.ow, NP, |x, full| unsafe {
            if full {
                whole(l, io, epi, x, co0)
            } else {
                strip::<1, 0>(l, io, epi, x, co0)
            }
        });
    }
}

/// Rounds pixels of `cs` floats (channels `0..cin` used) to `cin / 2` bf16 pairs each.
///
/// # Safety
/// `src` holds `dst.len() / pairs` pixels of `cs` floats; the CPU has AVX-512F and AVX512-BF16.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(super) unsafe fn round_row(src: *const f32, cs: usize, cin: usize, dst: &mut [u32]) {
    unsafe {
        let pairs = cin.div_ceil(2);
        if cs == cin && cin.is_multiple_of(2) {
            // Contiguous channels: 32 floats to 16 pairs per instruction.
            let n = dst.len();
            let mut i = 0;
            while i + 16 <= n {
                let lo = _mm512_loadu_ps(src.add(2 * i));
                let hi = _mm512_loadu_ps(src.add(2 * i + 16));
                let bf: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                _mm512_storeu_si512(dst.as_mut_ptr().add(i).cast(), bf);
                i += 16;
            }
            for (k, d) in dst.iter_mut().enumerate().skip(i) {
                *d = pair(to_bf16(*src.add(2 * k)), to_bf16(*src.add(2 * k + 1)));
            }
            return;
        }
        for (p, px) in dst.chunks_exact_mut(pairs).enumerate() {
            let s = src.add(p * cs);
            for (cp, d) in px.iter_mut().enumerate() {
                let c = |ci: usize| if ci < cin { to_bf16(*s.add(ci)) } else { 0 };
                *d = pair(c(2 * cp), c(2 * cp + 1));
            }
        }
    }
}

/// The kernel: a strip of `N` pixels, `PIX` bf16 pairs apart (0: the layer's `sx * pairs`).
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn strip<const N: usize, const PIX: usize>(
    l: &ConvLayer,
    io: &RowIo,
    epi: &[EpiRt],
    x0: usize,
    co0: usize,
) {
    unsafe {
        let pairs = l.cin.div_ceil(2);
        let b = _mm512_loadu_ps(l.bias.as_ptr().add(co0));
        let mut acc = [b; N];
        let pix = if PIX > 0 { PIX } else { l.sx * pairs } as isize;
        for ky in 0..l.kh {
            for kx in 0..l.kw {
                // Pixel (x0 * sx + kx) of the rounded row, counted from -pad_x.
                let ip = io.rin_bf16[ky].add((x0 * l.sx + kx) * pairs);
                let wp = l.wb.as_ptr().add((ky * l.kw + kx) * pairs * l.cs_out + co0);
                for cp in 0..pairs {
                    let wv: __m512bh =
                        std::mem::transmute(_mm512_loadu_si512(wp.add(cp * l.cs_out).cast()));
                    let xp = ip.add(cp);
                    for (p, a) in acc.iter_mut().enumerate() {
                        let x = _mm512_set1_epi32(*xp.offset(p as isize * pix) as i32);
                        *a = _mm512_dpbf16_ps(*a, wv, std::mem::transmute::<__m512i, __m512bh>(x));
                    }
                }
            }
        }
        for (p, &a) in acc.iter().enumerate() {
            let off = (x0 + p) * l.cs_out + co0;
            let v = epilogue(a, epi, off);
            _mm512_storeu_ps(io.out.add(off), v);
            if !io.out_bf16.is_null() {
                // The same values as bf16 pairs, for the next conv (`ring::Bf16Ring`).
                let b: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(v));
                _mm256_storeu_si256(io.out_bf16.add(off / 2).cast(), b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_nearest_even_as_the_instruction() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties to the even (1.0).
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(to_bf16(-2.5), 0xc020);
        assert!(f32::from_bits((to_bf16(f32::NAN) as u32) << 16).is_nan());
        if !(std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bf16"))
        {
            return;
        }
        // The vector rounding of round_row against the scalar one, on awkward values.
        let src: Vec<f32> = (0..40)
            .map(|i| (i as f32 - 20.0) * 1.0039 + 1.0 / (i as f32 + 0.5))
            .collect();
        let mut fast = vec![0u32; 20];
        unsafe { round_row(src.as_ptr(), 2, 2, &mut fast) };
        let scalar: Vec<u32> = src
            .chunks(2)
            .map(|c| pair(to_bf16(c[0]), to_bf16(c[1])))
            .collect();
        assert_eq!(fast, scalar);
    }
}
