//! The f32 conv kernel, written once for every instruction set ([`Lanes`]): 16 output channels
//! of a pixel in `16 / WIDTH` vectors, a strip of `NP` pixels in `NP * 16 / WIDTH` accumulators;
//! per (tap, input channel) one weight load per vector and one broadcast per pixel feeding the
//! FMAs. `dispatch.rs` chooses an ISA's row function.

use super::lanes::{Lanes, Portable};
use super::layer::{BLOCK, ConvLayer, EpiRt, RowIo, StripFn, strips};

/// One output row of a conv with its fused epilogue.
///
/// # Safety
/// `io` must point at rows that hold every element the layer reads (the border columns
/// included) and writes, the `Add` pointers of the epilogue at rows with the output's geometry,
/// and the CPU must run the ISA the function was chosen for.
pub(super) type ConvRowFn = unsafe fn(&ConvLayer, &RowIo, &[EpiRt]);

/// An ISA's strip functions: whole strips of `np` pixels for the common pixel strides (a
/// constant stride makes the input addresses one base register plus immediate offsets), any
/// other stride, and single pixels.
struct Strips {
    np: usize,
    pix16: StripFn,
    pix32: StripFn,
    pix8: StripFn,
    pix6: StripFn,
    any: StripFn,
    single: StripFn,
}

/// The strips of the kernel instantiated for `$lanes` (`$v` vectors per pixel, strips of `$np`
/// pixels), each its own function compiled with `$features` (none: the portable path).
macro_rules! strips_for {
    ($lanes:ty, $v:literal, $np:literal $(, $features:literal)?) => {{
        $(#[target_feature(enable = $features)])?
        unsafe fn at<const N: usize, const PIX: usize>(
            l: &ConvLayer,
            io: &RowIo,
            epi: &[EpiRt],
            x0: usize,
            co0: usize,
        ) {
            unsafe { strip::<$lanes, $v, N, PIX>(l, io, epi, x0, co0) }
        }
        Strips {
            np: $np,
            pix16: at::<$np, 16>,
            pix32: at::<$np, 32>,
            pix8: at::<$np, 8>,
            pix6: at::<$np, 6>,
            any: at::<$np, 0>,
            single: at::<1, 0>,
        }
    }};
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::super::lanes::{Avx2, Avx512};
    use super::super::layer::{ConvLayer, EpiRt, RowIo};
    use super::{Strips, conv_row, strip};

    /// # Safety
    /// As [`super::ConvRowFn`], on a CPU with AVX-512F.
    pub(in super::super) unsafe fn conv_row_avx512(l: &ConvLayer, io: &RowIo, epi: &[EpiRt]) {
        // 16 accumulators + 1 weight register (of 32): enough independent FMA chains to hide
        // the latency on two FMA pipes.
        const STRIPS: Strips = strips_for!(Avx512, 1, 16, "avx512f");
        unsafe { conv_row(l, io, epi, &STRIPS) }
    }

    /// # Safety
    /// As [`super::ConvRowFn`], on a CPU with AVX2 and FMA.
    pub(in super::super) unsafe fn conv_row_avx2(l: &ConvLayer, io: &RowIo, epi: &[EpiRt]) {
        // 12 accumulators + 2 weight registers + 1 broadcast (of 16).
        const STRIPS: Strips = strips_for!(Avx2, 2, 6, "avx2,fma");
        unsafe { conv_row(l, io, epi, &STRIPS) }
    }

    /// The AVX-512 epilogue, for the bf16 kernel's f32 sums.
    ///
    /// # Safety
    /// On a CPU with AVX-512F; `Add` pointers as [`super::ConvRowFn`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(in super::super) unsafe fn epilogue_avx512(
        v: std::arch::x86_64::__m512,
        epi: &[EpiRt],
        off: usize,
    ) -> std::arch::x86_64::__m512 {
        unsafe { super::epilogue(Avx512(v), epi, off).0 }
    }
}

/// # Safety
/// As [`ConvRowFn`].
pub(super) unsafe fn conv_row_portable(l: &ConvLayer, io: &RowIo, epi: &[EpiRt]) {
    const STRIPS: Strips = strips_for!(Portable, 2, 4);
    unsafe { conv_row(l, io, epi, &STRIPS) }
}

/// One output row: strips of `s.np` pixels, the last one ending at `ow` (recomputing a few
/// pixels, which writes the same values), or single pixels when the row is narrower.
///
/// # Safety
/// As [`ConvRowFn`], the CPU running the strips' ISA.
unsafe fn conv_row(l: &ConvLayer, io: &RowIo, epi: &[EpiRt], s: &Strips) {
    let pix = l.sx * io.in_cs;
    let whole = match pix {
        16 => s.pix16,
        32 => s.pix32,
        8 => s.pix8,
        6 => s.pix6,
        _ => s.any,
    };
    for co0 in (0..l.cs_out).step_by(BLOCK) {
        strips(l.ow, s.np, |x, full| unsafe {
            if full {
                whole(l, io, epi, x, co0)
            } else {
                (s.single)(l, io, epi, x, co0)
            }
        });
    }
}

/// The kernel: `V` vectors of `L` per pixel (`V * L::WIDTH == BLOCK`), a strip of `N` pixels
/// (pixel stride `PIX` floats, 0: the layer's).
#[inline(always)]
unsafe fn strip<L: Lanes, const V: usize, const N: usize, const PIX: usize>(
    l: &ConvLayer,
    io: &RowIo,
    epi: &[EpiRt],
    x0: usize,
    co0: usize,
) {
    unsafe {
        // No `array::from_fn` here: its closure would not inherit the target features either.
        let mut bias = [L::splat(0.0); V];
        for (v, b) in bias.iter_mut().enumerate() {
            *b = L::load(l.bias.as_ptr().add(co0 + v * L::WIDTH));
        }
        let mut acc = [bias; N];
        let pix = if PIX > 0 { PIX } else { l.sx * io.in_cs } as isize;
        for ky in 0..l.kh {
            for kx in 0..l.kw {
                let ix = (x0 * l.sx + kx) as isize - l.pad_x as isize;
                let ip = io.rin[ky].offset(ix * io.in_cs as isize);
                let wp = l.w.as_ptr().add((ky * l.kw + kx) * l.cin * l.cs_out + co0);
                for ci in 0..l.cin {
                    let mut w = [L::splat(0.0); V];
                    for (v, wv) in w.iter_mut().enumerate() {
                        *wv = L::load(wp.add(ci * l.cs_out + v * L::WIDTH));
                    }
                    let xp = ip.add(ci);
                    for (p, a) in acc.iter_mut().enumerate() {
                        let xv = L::splat(*xp.offset(p as isize * pix));
                        for v in 0..V {
                            a[v] = w[v].mul_add(xv, a[v]);
                        }
                    }
                }
            }
        }
        for (p, a) in acc.iter().enumerate() {
            for (v, &lanes) in a.iter().enumerate() {
                let off = (x0 + p) * l.cs_out + co0 + v * L::WIDTH;
                epilogue(lanes, epi, off).store(io.out.add(off));
            }
        }
    }
}

/// The fused epilogue ops on the lanes of output offset `off`.
///
/// # Safety
/// `Add` pointers as [`ConvRowFn`].
#[inline(always)]
unsafe fn epilogue<L: Lanes>(mut v: L, epi: &[EpiRt], off: usize) -> L {
    for e in epi {
        v = match *e {
            EpiRt::Point(op) => v.point(op),
            EpiRt::Add(src) => v.add(unsafe { L::load(src.add(off)) }),
        };
    }
    v
}
