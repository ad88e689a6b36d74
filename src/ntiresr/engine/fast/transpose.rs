//! NHWC -> NCHW output scatter with in-register transposes (16x16 with AVX-512, 8x8 with AVX2 and
//! portable lanes), written once for every ISA ([`Lanes`]): 16 output channels that read 16
//! consecutive channels of the same source pixels (the luma sub-pixel blocks of the residual, the
//! U/V residual, the state) are written as whole vectors along x instead of one float at a time.

use super::lanes::Lanes;
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

/// One row of a block: `dst[j][x] = ops(src[x * pstride + j])` for x in 0..w, j in 0..16;
/// whether every value written is finite.
///
/// # Safety
/// `src` holds `w` pixels of 16 floats at `pstride`, each `dst[j]` holds `w` floats, and the CPU
/// runs the ISA the function was chosen for.
pub(super) type ScatterRowFn =
    unsafe fn(*const f32, usize, usize, &[*mut f32; 16], &[PointOp]) -> bool;

/// The scatter instantiated for `$lanes`, compiled with `$features` (none: the portable path).
macro_rules! scatter_for {
    ($name:ident, $lanes:ty $(, $features:literal)?) => {
        /// # Safety
        /// As [`ScatterRowFn`](super::ScatterRowFn), on a CPU that runs the lanes' ISA.
        $(#[target_feature(enable = $features)])?
        pub(in super::super) unsafe fn $name(
            src: *const f32,
            pstride: usize,
            w: usize,
            dst: &[*mut f32; 16],
            ops: &[PointOp],
        ) -> bool {
            unsafe { scatter_row::<$lanes>(src, pstride, w, dst, ops) }
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::super::lanes::{Avx2, Avx512};
    use super::{PointOp, scatter_row};

    scatter_for!(scatter_row_avx512, Avx512, "avx512f");
    scatter_for!(scatter_row_avx2, Avx2, "avx2,fma");
}

pub(super) mod portable {
    use super::super::lanes::Portable;
    use super::{PointOp, scatter_row};

    scatter_for!(scatter_row_portable, Portable);
}

/// The scatter on any [`Lanes`]: per `WIDTH` pixels, `16 / WIDTH` in-register transposes of
/// `WIDTH` x `WIDTH`, the ops applied as [`PointOp::apply`] rounds them (a multiply, then an
/// add), then the remaining pixels one by one.
///
/// # Safety
/// As [`ScatterRowFn`], the CPU running `L`'s ISA.
#[inline(always)]
unsafe fn scatter_row<L: Lanes>(
    src: *const f32,
    pstride: usize,
    w: usize,
    dst: &[*mut f32; 16],
    ops: &[PointOp],
) -> bool {
    let zero = L::splat(0.0);
    // v * 0 is 0 for a finite v, NaN otherwise: the sum stays ordered while all are finite.
    let mut nan_seen = zero;
    let mut finite = true;
    let mut x = 0;
    unsafe {
        while x + L::WIDTH <= w {
            for part in 0..16 / L::WIDTH {
                let mut r = [zero; 16];
                let r = &mut r[..L::WIDTH];
                for (k, rk) in r.iter_mut().enumerate() {
                    *rk = L::load(src.add((x + k) * pstride + part * L::WIDTH));
                }
                L::transpose(r);
                for (j, &rj) in r.iter().enumerate() {
                    let v = apply(rj, ops);
                    nan_seen = nan_seen.add(v.mul(zero));
                    v.store(dst[part * L::WIDTH + j].add(x));
                }
            }
            x += L::WIDTH;
        }
        for x in x..w {
            for (j, d) in dst.iter().enumerate() {
                let v = apply_scalar(*src.add(x * pstride + j), ops);
                finite &= v.is_finite();
                *d.add(x) = v;
            }
        }
    }
    finite && nan_seen.ordered()
}

/// Applies `ops` to one float.
#[inline]
fn apply_scalar(mut v: f32, ops: &[PointOp]) -> f32 {
    for op in ops {
        v = op.apply(v);
    }
    v
}

/// `ops` on lanes, rounded as [`PointOp::apply`] (an affine op is a multiply, then an add: the
/// scalar tail and the channels copied one by one round the same).
#[inline(always)]
fn apply<L: Lanes>(mut v: L, ops: &[PointOp]) -> L {
    for op in ops {
        v = match *op {
            PointOp::Affine(m, a) => v.mul(L::splat(m)).add(L::splat(a)),
            op => v.point(op),
        };
    }
    v
}
