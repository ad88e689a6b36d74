//! Which row function runs a conv on each ISA (the f32 kernel, `kernel.rs`, or the bf16 one,
//! `kernel_bf16.rs`) and which scatters an output block (`transpose.rs`), chosen once per step.

use super::isa::Isa;
use super::kernel::ConvRowFn;
use super::transpose::ScatterRowFn;

/// The row function of `isa`'s kernel.
pub(super) fn conv_row_for(isa: Isa) -> ConvRowFn {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => super::kernel::x86::conv_row_avx512,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => super::kernel::x86::conv_row_avx2,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Bf16 => super::kernel_bf16::conv_row,
        _ => super::kernel::conv_row_portable,
    }
}

/// The output block scatter of `isa` (the bf16 path's outputs are f32: its AVX-512 scatter).
pub(super) fn scatter_row_for(isa: Isa) -> ScatterRowFn {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx512Bf16 => super::transpose::x86::scatter_row_avx512,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => super::transpose::x86::scatter_row_avx2,
        _ => super::transpose::portable::scatter_row_portable,
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::PointOp;
    use super::*;

    #[test]
    fn transposes() {
        let m: Vec<f32> = (0..48 * 19).map(|i| i as f32).collect();
        for isa in Isa::all_available() {
            // 19 pixels of 48 channels: channels 16..32 to 16 rows, clipped.
            let mut out = vec![0f32; 16 * 19];
            let dst: [*mut f32; 16] =
                std::array::from_fn(|j| unsafe { out.as_mut_ptr().add(19 * j) });
            let ops = [PointOp::Clip(0.0, 800.0)];
            let src = unsafe { m.as_ptr().add(16) };
            let finite = unsafe { scatter_row_for(isa)(src, 48, 19, &dst, &ops) };
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

    #[test]
    fn a_non_finite_value_written_is_reported() {
        // 19 pixels: 16 in the vector loop (AVX-512; two rounds of 8 with 8 lanes), 3 in the tail.
        for isa in Isa::all_available() {
            for (pixel, bad) in [(3, f32::NAN), (18, f32::INFINITY), (9, f32::NEG_INFINITY)] {
                let mut m: Vec<f32> = (0..16 * 19).map(|i| i as f32).collect();
                m[16 * pixel + 5] = bad;
                let mut out = vec![0f32; 16 * 19];
                let dst: [*mut f32; 16] =
                    std::array::from_fn(|j| unsafe { out.as_mut_ptr().add(19 * j) });
                let finite = unsafe { scatter_row_for(isa)(m.as_ptr(), 16, 19, &dst, &[]) };
                assert!(!finite, "{isa:?}: {bad} at pixel {pixel}");
            }
        }
    }
}
