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
