//! Which row function runs a conv on each ISA: the f32 kernel (`kernel.rs`) or the bf16 one
//! (`kernel_bf16.rs`), chosen once per conv step.

use super::isa::Isa;
use super::kernel::ConvRowFn;

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
