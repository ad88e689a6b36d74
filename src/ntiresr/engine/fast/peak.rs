//! Each kernel path's arithmetic peak on this machine, measured: independent chains of the
//! path's multiply-add (the f32 FMA of its [`Lanes`], `vdpbf16ps` for bf16), enough of them to
//! hide the latency, on every thread at once. The benchmark reports a path's GFLOP/s as a share
//! of it (a clock read from the system is not the clock the cores run at under load).

use super::isa::Isa;
use super::lanes::{Lanes, Portable};
use std::time::Instant;

/// Independent accumulators per thread: more than latency x issue rate on every ISA here.
const CHAINS: usize = 12;

/// GFLOP/s of `isa`'s multiply-add on `threads` threads at once, the best of three rounds of
/// about `seconds` each; None where the CPU does not run `isa`.
pub fn peak_gflops(isa: Isa, threads: usize, seconds: f64) -> Option<f64> {
    if !isa.available() {
        return None;
    }
    let threads = threads.max(1);
    // Calibrate on one thread: iterations for about `seconds`.
    let mut iters = 1 << 14;
    loop {
        let t = Instant::now();
        std::hint::black_box(run(isa, iters));
        let s = t.elapsed().as_secs_f64();
        if s >= seconds / 4.0 || iters >= 1 << 34 {
            iters = ((iters as f64) * seconds / s.max(1e-9)).max(1.0) as u64;
            break;
        }
        iters *= 4;
    }
    let flop = (iters as f64) * (CHAINS * flop_per_op(isa)) as f64 * threads as f64;
    let best = (0..3)
        .map(|_| {
            let t = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| std::hint::black_box(run(isa, iters)));
                }
            });
            flop / t.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max);
    Some(best)
}

/// FLOP of one multiply-add instruction (or the portable path's 8-lane multiply and add).
fn flop_per_op(isa: Isa) -> usize {
    match isa {
        Isa::Avx512Bf16 => 16 * 2 * 2, // 16 lanes, each two products summed
        Isa::Avx512 => 16 * 2,
        Isa::Avx2Fma | Isa::Portable => 8 * 2,
    }
}

/// `iters` rounds of `CHAINS` multiply-adds on `isa`.
fn run(isa: Isa, iters: u64) -> f32 {
    match isa {
        // SAFETY (each arm): `peak_gflops` checked that the CPU runs `isa`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Bf16 => unsafe { x86::bf16(iters) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::avx512(iters) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { x86::avx2(iters) },
        _ => chains::<Portable>(iters),
    }
}

/// The chains on any [`Lanes`]: `acc = acc * a + b`, `CHAINS` of them side by side.
#[inline(always)]
fn chains<L: Lanes>(iters: u64) -> f32 {
    let (a, b) = (L::splat(0.999_999), L::splat(1e-7));
    let mut acc = [L::splat(1.0); CHAINS];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = x.mul_add(a, b);
        }
    }
    let mut sum = [0f32; 16];
    let mut total = 0.0;
    for x in acc {
        // SAFETY: `sum` holds 16 >= WIDTH floats.
        unsafe { x.store(sum.as_mut_ptr()) };
        total += sum[..L::WIDTH].iter().sum::<f32>();
    }
    total
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes::{Avx2, Avx512};
    use super::{CHAINS, chains};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512(iters: u64) -> f32 {
        chains::<Avx512>(iters)
    }

    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(iters: u64) -> f32 {
        chains::<Avx2>(iters)
    }

    /// # Safety
    /// The CPU has AVX-512F and AVX512-BF16.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn bf16(iters: u64) -> f32 {
        // bf16 pairs (1.0, 2^-8): the sums grow by a small step per round, never overflow.
        // SAFETY: 512 bits as 512 bits.
        let w: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(0x3b80_3f80)) };
        let x: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(0x3b80_3b80)) };
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_dpbf16_ps(*a, w, x);
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_the_cpu_runs_has_a_peak_and_the_others_none() {
        for isa in [Isa::Avx512Bf16, Isa::Avx512, Isa::Avx2Fma, Isa::Portable] {
            let p = peak_gflops(isa, 1, 0.01);
            assert_eq!(p.is_some(), isa.available(), "{isa:?}");
            if let Some(g) = p {
                // From a slow portable core to a wide one: a sane range, not a figure.
                assert!(g > 0.1 && g < 10_000.0, "{isa:?}: {g} GFLOP/s");
            }
        }
    }

    #[test]
    fn the_chains_compute_what_they_say() {
        // acc = acc * a + b from 1, 3 rounds, on 12 x 8 lanes.
        let (a, b) = (0.999_999f32, 1e-7f32);
        let one = (0..3).fold(1f32, |x, _| x * a + b);
        let got = chains::<Portable>(3);
        assert!((got - one * 96.0).abs() < 1e-3, "{got} vs {}", one * 96.0);
    }
}
