//! One vector of f32 lanes per instruction set, as the conv kernel uses it: AVX-512 (16 lanes),
//! AVX2+FMA (8) and portable Rust (8, which the compiler vectorises as it can). Every method is
//! `#[inline(always)]`, so that it compiles inside the `#[target_feature]` function that calls
//! the kernel (`kernel.rs`), with that function's instructions.

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
    fn add(self, b: Self) -> Self;
    fn max(self, b: Self) -> Self;
    fn min(self, b: Self) -> Self;
    /// `self` where not negative, else `self * alpha`.
    fn leaky(self, alpha: f32) -> Self;

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
    pub(in super::super) struct Avx2(__m256);

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
    /// Lane by lane as [`PointOp::apply`]: the reference the vector paths are tested against.
    #[inline(always)]
    fn point(self, op: PointOp) -> Self {
        Portable(self.0.map(|v| op.apply(v)))
    }
}
