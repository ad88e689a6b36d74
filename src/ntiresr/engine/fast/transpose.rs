//! NHWC -> NCHW output scatter with in-register transposes (16x16 with AVX-512, 8x8 with AVX2):
//! 16 output channels
//! that read 16 consecutive channels of the same source pixels (the luma sub-pixel blocks of the
//! residual, the U/V residual, the state) are written as whole vectors along x instead of one
//! float at a time.

use super::view::{Base, ChanMap, PointOp};

/// 16 output channels `dst[j]` reading source channel `ch0 + j` of buffer `buf` at pixel
/// `(y * m + oy, x * m + ox)`, then `ops`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Block16 {
    pub buf: usize,
    pub m: usize,
    pub oy: usize,
    pub ox: usize,
    pub ch0: usize,
    pub dst: [usize; 16],
    pub ops: Vec<PointOp>,
}

/// Splits output channels into transposable blocks and the rest (copied one by one).
pub(super) fn blocks(maps: &[ChanMap]) -> (Vec<Block16>, Vec<usize>) {
    let mut used = vec![false; maps.len()];
    let mut out = Vec::new();
    for (c, m) in maps.iter().enumerate() {
        let Base::Buf(buf) = m.base else { continue };
        if used[c] || m.p != 1 {
            continue;
        }
        let (ch0, oy, ox) = m.phases[0];
        // The 16 channels ch0..ch0+16 with the same source pixels and ops.
        let mut dst = [usize::MAX; 16];
        for (d, n) in maps.iter().enumerate() {
            if !used[d]
                && n.base == m.base
                && n.p == 1
                && n.m == m.m
                && n.ops == m.ops
                && n.phases[0].1 == oy
                && n.phases[0].2 == ox
                && (ch0..ch0 + 16).contains(&n.phases[0].0)
                && dst[n.phases[0].0 - ch0] == usize::MAX
            {
                dst[n.phases[0].0 - ch0] = d;
            }
        }
        if dst.iter().all(|&d| d != usize::MAX) {
            for &d in &dst {
                used[d] = true;
            }
            out.push(Block16 {
                buf,
                m: m.m,
                oy,
                ox,
                ch0,
                dst,
                ops: m.ops.clone(),
            });
        }
    }
    let rest = (0..maps.len()).filter(|&c| !used[c]).collect();
    (out, rest)
}

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::scatter_row as scatter_row_avx2;
#[cfg(target_arch = "x86_64")]
pub(super) use avx2::transpose8;
#[cfg(target_arch = "x86_64")]
pub(super) use avx512::scatter_row;

/// Applies `ops` to one float.
#[inline]
fn apply_scalar(mut v: f32, ops: &[PointOp]) -> f32 {
    for op in ops {
        v = op.apply(v);
    }
    v
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::PointOp;
    use std::arch::x86_64::*;

    /// Transposes 16 rows of 16 floats in registers.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn transpose16(r: &mut [__m512; 16]) {
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let mut u = [_mm512_setzero_ps(); 16];
        for i in 0..4 {
            let b = 4 * i;
            u[b] = _mm512_shuffle_ps::<0x44>(t[b], t[b + 2]);
            u[b + 1] = _mm512_shuffle_ps::<0xEE>(t[b], t[b + 2]);
            u[b + 2] = _mm512_shuffle_ps::<0x44>(t[b + 1], t[b + 3]);
            u[b + 3] = _mm512_shuffle_ps::<0xEE>(t[b + 1], t[b + 3]);
        }
        let mut v = [_mm512_setzero_ps(); 16];
        for h in 0..2 {
            let b = 8 * h;
            for i in 0..4 {
                v[b + i] = _mm512_shuffle_f32x4::<0x88>(u[b + i], u[b + 4 + i]);
                v[b + 4 + i] = _mm512_shuffle_f32x4::<0xDD>(u[b + i], u[b + 4 + i]);
            }
        }
        for i in 0..8 {
            r[i] = _mm512_shuffle_f32x4::<0x88>(v[i], v[8 + i]);
            r[8 + i] = _mm512_shuffle_f32x4::<0xDD>(v[i], v[8 + i]);
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn apply(mut v: __m512, ops: &[PointOp]) -> __m512 {
        for op in ops {
            v = match *op {
                PointOp::Affine(m, a) => {
                    _mm512_add_ps(_mm512_mul_ps(v, _mm512_set1_ps(m)), _mm512_set1_ps(a))
                }
                PointOp::Leaky(alpha) => {
                    let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, _mm512_setzero_ps());
                    _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(alpha))
                }
                PointOp::Relu => _mm512_max_ps(v, _mm512_setzero_ps()),
                PointOp::Clip(lo, hi) => {
                    _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lo)), _mm512_set1_ps(hi))
                }
            };
        }
        v
    }

    /// One row: `dst[j][x] = ops(src[x * pstride + j])` for x in 0..w, j in 0..16; whether every
    /// value written is finite.
    ///
    /// # Safety
    /// `src` holds `w` pixels of 16 floats at `pstride`, each `dst[j]` holds `w` floats, and
    /// the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(in super::super) unsafe fn scatter_row(
        src: *const f32,
        pstride: usize,
        w: usize,
        dst: &[*mut f32; 16],
        ops: &[PointOp],
    ) -> bool {
        let mut x = 0;
        // v * 0 is 0 for a finite v, NaN otherwise: the sum stays ordered while all are finite.
        let zero = _mm512_setzero_ps();
        let mut nan_seen = zero;
        let mut finite = true;
        unsafe {
            while x + 16 <= w {
                let mut r = [_mm512_setzero_ps(); 16];
                for (k, rk) in r.iter_mut().enumerate() {
                    *rk = _mm512_loadu_ps(src.add((x + k) * pstride));
                }
                transpose16(&mut r);
                for (j, &rj) in r.iter().enumerate() {
                    let v = apply(rj, ops);
                    nan_seen = _mm512_add_ps(nan_seen, _mm512_mul_ps(v, zero));
                    _mm512_storeu_ps(dst[j].add(x), v);
                }
                x += 16;
            }
            for x in x..w {
                for (j, d) in dst.iter().enumerate() {
                    let v = super::apply_scalar(*src.add(x * pstride + j), ops);
                    finite &= v.is_finite();
                    *d.add(x) = v;
                }
            }
        }
        finite && _mm512_cmp_ps_mask::<_CMP_ORD_Q>(nan_seen, nan_seen) == 0xFFFF
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::PointOp;
    use std::arch::x86_64::*;

    /// Transposes 8 rows of 8 floats in registers.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(in super::super) fn transpose8(r: &mut [__m256; 8]) {
        let mut t = [_mm256_setzero_ps(); 8];
        for i in 0..4 {
            t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let mut u = [_mm256_setzero_ps(); 8];
        for i in 0..2 {
            let b = 4 * i;
            u[b] = _mm256_shuffle_ps::<0x44>(t[b], t[b + 2]);
            u[b + 1] = _mm256_shuffle_ps::<0xEE>(t[b], t[b + 2]);
            u[b + 2] = _mm256_shuffle_ps::<0x44>(t[b + 1], t[b + 3]);
            u[b + 3] = _mm256_shuffle_ps::<0xEE>(t[b + 1], t[b + 3]);
        }
        for i in 0..4 {
            r[i] = _mm256_permute2f128_ps::<0x20>(u[i], u[4 + i]);
            r[4 + i] = _mm256_permute2f128_ps::<0x31>(u[i], u[4 + i]);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn apply(mut v: __m256, ops: &[PointOp]) -> __m256 {
        for op in ops {
            v = match *op {
                PointOp::Affine(m, a) => {
                    _mm256_add_ps(_mm256_mul_ps(v, _mm256_set1_ps(m)), _mm256_set1_ps(a))
                }
                PointOp::Leaky(alpha) => {
                    let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(v, _mm256_setzero_ps());
                    _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(alpha)), neg)
                }
                PointOp::Relu => _mm256_max_ps(v, _mm256_setzero_ps()),
                PointOp::Clip(lo, hi) => {
                    _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi))
                }
            };
        }
        v
    }

    /// As the AVX-512 `scatter_row` (whether every value written is finite), with two 8x8
    /// transposes per 8 pixels.
    ///
    /// # Safety
    /// As the AVX-512 `scatter_row`, and the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(in super::super) unsafe fn scatter_row(
        src: *const f32,
        pstride: usize,
        w: usize,
        dst: &[*mut f32; 16],
        ops: &[PointOp],
    ) -> bool {
        let mut x = 0;
        let zero = _mm256_setzero_ps();
        let mut nan_seen = zero;
        let mut finite = true;
        unsafe {
            while x + 8 <= w {
                for half in 0..2 {
                    let mut r = [_mm256_setzero_ps(); 8];
                    for (k, rk) in r.iter_mut().enumerate() {
                        *rk = _mm256_loadu_ps(src.add((x + k) * pstride + 8 * half));
                    }
                    transpose8(&mut r);
                    for (j, &rj) in r.iter().enumerate() {
                        let v = apply(rj, ops);
                        nan_seen = _mm256_add_ps(nan_seen, _mm256_mul_ps(v, zero));
                        _mm256_storeu_ps(dst[8 * half + j].add(x), v);
                    }
                }
                x += 8;
            }
            for x in x..w {
                for (j, d) in dst.iter().enumerate() {
                    let v = super::apply_scalar(*src.add(x * pstride + j), ops);
                    finite &= v.is_finite();
                    *d.add(x) = v;
                }
            }
        }
        finite && _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(nan_seen, nan_seen)) == 0
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
#[test]
fn transposes() {
    use super::isa::Isa;
    let m: Vec<f32> = (0..48 * 19).map(|i| i as f32).collect();
    for isa in [Isa::Avx512, Isa::Avx2Fma] {
        if !isa.available() {
            continue;
        }
        // 19 pixels of 48 channels: channels 16..32 to 16 rows, clipped.
        let mut out = vec![0f32; 16 * 19];
        let dst: [*mut f32; 16] = std::array::from_fn(|j| unsafe { out.as_mut_ptr().add(19 * j) });
        let ops = [PointOp::Clip(0.0, 800.0)];
        let src = unsafe { m.as_ptr().add(16) };
        let finite = match isa {
            Isa::Avx512 => unsafe { scatter_row(src, 48, 19, &dst, &ops) },
            _ => unsafe { scatter_row_avx2(src, 48, 19, &dst, &ops) },
        };
        assert!(finite, "{isa:?}");
        for j in 0..16 {
            for x in 0..19 {
                assert_eq!(
                    out[19 * j + x],
                    m[48 * x + 16 + j].min(800.0),
                    "{isa:?} ({j}, {x})"
                );
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
#[test]
fn a_non_finite_value_written_is_reported() {
    use super::isa::Isa;
    // 19 pixels: 16 in the vector loop (AVX-512; two rounds of 8 with AVX2), 3 in the tail.
    for isa in [Isa::Avx512, Isa::Avx2Fma] {
        if !isa.available() {
            continue;
        }
        for (pixel, bad) in [(3, f32::NAN), (18, f32::INFINITY), (9, f32::NEG_INFINITY)] {
            let mut m: Vec<f32> = (0..16 * 19).map(|i| i as f32).collect();
            m[16 * pixel + 5] = bad;
            let mut out = vec![0f32; 16 * 19];
            let dst: [*mut f32; 16] =
                std::array::from_fn(|j| unsafe { out.as_mut_ptr().add(19 * j) });
            let finite = match isa {
                Isa::Avx512 => unsafe { scatter_row(m.as_ptr(), 16, 19, &dst, &[]) },
                _ => unsafe { scatter_row_avx2(m.as_ptr(), 16, 19, &dst, &[]) },
            };
            assert!(!finite, "{isa:?}: {bad} at pixel {pixel}");
        }
    }
}
