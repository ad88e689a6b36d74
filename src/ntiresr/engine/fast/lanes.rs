//! One vector of f32 lanes per instruction set, as the conv kernel (`kernel.rs`) and the output
//! scatter (`transpose.rs`) use it: AVX-512 (16 lanes), AVX2+FMA (8) and portable Rust (8, which
//! the compiler vectorises as it can). Every method is `#[inline(always)]`, so that it compiles
//! inside the `#[target_feature]` function that calls it, with that function's instructions.

use super::view::PointOp;

/// A vector of `WIDTH` f32 lanes.
pub(super) trait Lanes: Copy {
    /// f32 lanes per vector.
    const WIDTH: usize;
    /// # Safety
    /// `p` points at `WIDTH` readable f32s; the CPU runs this ISA.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` points at `WIDTH` writable f32s; the CPU runs this ISA.
    unsafe fn store(self, p: *mut f32);
    fn splat(v: f32) -> Self;
    /// `self * b + c`.
    fn mul_add(self, b: Self, c: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    fn add(self, b: Self) -> Self;
    fn max(self, b: Self) -> Self;
    fn min(self, b: Self) -> Self;
    /// `self` where not negative, else `self * alpha`.
    fn leaky(self, alpha: f32) -> Self;
    /// Whether no lane is NaN.
    fn ordered(self) -> bool;
    /// Transposes `WIDTH` vectors (`r.len()`) of `WIDTH` lanes in registers.
    fn transpose(r: &mut [Self]);

    /// A fused point op.
    #[inline(always)]
    fn point(self, op: PointOp) -> Self {
        match op {
            PointOp::Affine(m, a) => self.mul_add(Self::splat(m), Self::splat(a)),
            PointOp::Leaky(alpha) => self.leaky(alpha),
            PointOp::Relu => self.max(Self::splat(0.0)),
            PointOp::Clip(lo, hi) => self.max(Self::splat(lo)).min(Self::splat(hi)),
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// AVX-512F: one zmm.
    #[derive(Clone, Copy)]
    pub(in super::super) struct Avx512(pub(in super::super) __m512);

    /// AVX2 + FMA: one ymm.
    #[derive(Clone, Copy)]
    pub(in super::super) struct Avx2(pub(in super::super) __m256);

    // SAFETY (every block below): the kernel is only reached through a `#[target_feature]`
    // function of the same ISA, planned only where the CPU runs it.
    impl Lanes for Avx512 {
        const WIDTH: usize = 16;
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx512(unsafe { _mm512_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm512_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Avx512(unsafe { _mm512_set1_ps(v) })
        }
        #[inline(always)]
        fn mul_add(self, b: Self, c: Self) -> Self {
            Avx512(unsafe { _mm512_fmadd_ps(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_mul_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_add_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn max(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_max_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn min(self, b: Self) -> Self {
            Avx512(unsafe { _mm512_min_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn leaky(self, alpha: f32) -> Self {
            unsafe {
                let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0, _mm512_setzero_ps());
                Avx512(_mm512_mask_mul_ps(
                    self.0,
                    neg,
                    self.0,
                    _mm512_set1_ps(alpha),
                ))
            }
        }
        #[inline(always)]
        fn ordered(self) -> bool {
            unsafe { _mm512_cmp_ps_mask::<_CMP_ORD_Q>(self.0, self.0) == 0xFFFF }
        }
        /// 16x16: unpack pairs, shuffle quads, then two rounds of 128-bit lane shuffles.
        #[inline(always)]
        fn transpose(r: &mut [Self]) {
            let r: &mut [Avx512; 16] = r.try_into().expect("16 vectors");
            unsafe {
                let mut t = [_mm512_setzero_ps(); 16];
                for i in 0..8 {
                    t[2 * i] = _mm512_unpacklo_ps(r[2 * i].0, r[2 * i + 1].0);
                    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i].0, r[2 * i + 1].0);
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
                    r[i] = Avx512(_mm512_shuffle_f32x4::<0x88>(v[i], v[8 + i]));
                    r[8 + i] = Avx512(_mm512_shuffle_f32x4::<0xDD>(v[i], v[8 + i]));
                }
            }
        }
    }

    impl Lanes for Avx2 {
        const WIDTH: usize = 8;
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx2(unsafe { _mm256_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm256_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Avx2(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        fn mul_add(self, b: Self, c: Self) -> Self {
            Avx2(unsafe { _mm256_fmadd_ps(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_mul_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_add_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn max(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_max_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn min(self, b: Self) -> Self {
            Avx2(unsafe { _mm256_min_ps(self.0, b.0) })
        }
        #[inline(always)]
        fn leaky(self, alpha: f32) -> Self {
            unsafe {
                let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(self.0, _mm256_setzero_ps());
                Avx2(_mm256_blendv_ps(
                    self.0,
                    _mm256_mul_ps(self.0, _mm256_set1_ps(alpha)),
                    neg,
                ))
            }
        }
        #[inline(always)]
        fn ordered(self) -> bool {
            unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, self.0)) == 0 }
        }
        /// 8x8: unpack pairs, shuffle quads, then swap 128-bit halves.
        #[inline(always)]
        fn transpose(r: &mut [Self]) {
            let r: &mut [Avx2; 8] = r.try_into().expect("8 vectors");
            unsafe {
                let mut t = [_mm256_setzero_ps(); 8];
                for i in 0..4 {
                    t[2 * i] = _mm256_unpacklo_ps(r[2 * i].0, r[2 * i + 1].0);
                    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i].0, r[2 * i + 1].0);
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
                    r[i] = Avx2(_mm256_permute2f128_ps::<0x20>(u[i], u[4 + i]));
                    r[4 + i] = Avx2(_mm256_permute2f128_ps::<0x31>(u[i], u[4 + i]));
                }
            }
        }
    }
}

/// Plain Rust: 8 lanes the compiler vectorises with whatever the target has.
#[derive(Clone, Copy)]
pub(super) struct Portable([f32; 8]);

impl Portable {
    #[inline(always)]
    fn map2(self, b: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        Portable(std::array::from_fn(|i| f(self.0[i], b.0[i])))
    }
}

impl Lanes for Portable {
    const WIDTH: usize = 8;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Portable(unsafe { p.cast::<[f32; 8]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { p.cast::<[f32; 8]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Portable([v; 8])
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // Not `f32::mul_add`: without FMA hardware that is a slow library call; the portable path
        // rounds the product, as it always has.
        Portable(std::array::from_fn(|i| self.0[i] * b.0[i] + c.0[i]))
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        self.map2(b, |x, y| x * y)
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self.map2(b, |x, y| x + y)
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        self.map2(b, f32::max)
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        self.map2(b, f32::min)
    }
    #[inline(always)]
    fn leaky(self, alpha: f32) -> Self {
        self.point(PointOp::Leaky(alpha))
    }
    #[inline(always)]
    fn ordered(self) -> bool {
        !self.0.iter().any(|v| v.is_nan())
    }
    #[inline(always)]
    fn transpose(r: &mut [Self]) {
        let m: [[f32; 8]; 8] = std::array::from_fn(|i| r[i].0);
        for (i, v) in r.iter_mut().enumerate() {
            v.0 = std::array::from_fn(|j| m[j][i]);
        }
    }
    /// Lane by lane as [`PointOp::apply`]: the reference the vector paths are tested against.
    #[inline(always)]
    fn point(self, op: PointOp) -> Self {
        Portable(self.0.map(|v| op.apply(v)))
    }
}
