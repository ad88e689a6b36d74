//! One output row of a convolution with its fused epilogue: the dispatch to the kernel family
//! of the planned ISA, and the portable kernel.

use super::isa::Isa;
use super::layer::{BLOCK, ConvLayer, EpiRt, RowIo, strips};

/// Computes one output row of `l` with the chosen kernel family.
///
/// # Safety
/// `io` must point at rows that hold every element the layer reads (the border columns
/// included) and writes, and the `Add` pointers of `epi` at rows with the output's geometry.
pub(super) unsafe fn conv_row(isa: Isa, l: &ConvLayer, io: &RowIo, epi: &[EpiRt]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { super::kernel_avx512::conv_row(l, io, epi) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { super::kernel_avx2::conv_row(l, io, epi) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Bf16 => unsafe { super::kernel_bf16::conv_row(l, io, epi) },
        _ => unsafe { conv_row_portable(l, io, epi) },
    }
}

/// # Safety
/// As [`conv_row`].
unsafe fn conv_row_portable(l: &ConvLayer, io: &RowIo, epi: &[EpiRt]) {
    const NP: usize = 4;
    for co0 in (0..l.cs_out).step_by(BLOCK) {
        strips(l.ow, NP, |x, full| unsafe {
            if full {
                strip_portable::<NP>(l, io, epi, x, co0)
            } else {
                strip_portable::<1>(l, io, epi, x, co0)
            }
        });
    }
}

#[inline(always)]
unsafe fn strip_portable<const NP: usize>(
    l: &ConvLayer,
    io: &RowIo,
    epi: &[EpiRt],
    x0: usize,
    co0: usize,
) {
    let mut acc = [[0f32; BLOCK]; NP];
    for a in acc.iter_mut() {
        a.copy_from_slice(&l.bias[co0..co0 + BLOCK]);
    }
    for ky in 0..l.kh {
        for kx in 0..l.kw {
            let ix = (x0 * l.sx + kx) as isize - l.pad_x as isize;
            // SAFETY: the caller guarantees the rows cover every tap (border columns included).
            let ip = unsafe { io.rin[ky].offset(ix * io.in_cs as isize) };
            let wt = &l.w[(ky * l.kw + kx) * l.cin * l.cs_out..];
            for ci in 0..l.cin {
                let wv: &[f32] = &wt[ci * l.cs_out + co0..ci * l.cs_out + co0 + BLOCK];
                for (p, a) in acc.iter_mut().enumerate() {
                    let xv = unsafe { *ip.add(p * l.sx * io.in_cs + ci) };
                    for j in 0..BLOCK {
                        a[j] += wv[j] * xv;
                    }
                }
            }
        }
    }
    for (p, a) in acc.iter().enumerate() {
        let off = (x0 + p) * l.cs_out + co0;
        for (j, &v0) in a.iter().enumerate() {
            let mut v = v0;
            for e in epi {
                v = match *e {
                    EpiRt::Point(op) => op.apply(v),
                    EpiRt::Add(src) => v + unsafe { *src.add(off + j) },
                };
            }
            unsafe { *io.out.add(off + j) = v };
        }
    }
}
