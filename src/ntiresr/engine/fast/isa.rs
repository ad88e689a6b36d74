//! Which instruction-set path the kernels take: the fastest the CPU runs, detected at run time,
//! unless the environment variable [`OVERRIDE_VAR`] names another.

/// The environment variable that forces a path (`avx512`, `avx2` or `portable`), read when a
/// network is planned: for tests and benchmarks of every path the CPU has.
pub const OVERRIDE_VAR: &str = "NTIRESR_ISA";

/// The kernel family a [`super::FastNet`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512F with AVX512-BF16: weights and inputs rounded to bf16, products summed in f32
    /// (`vdpbf16ps`): the element's `precision=bf16` (and `auto`, where the CPU has it), or
    /// `NTIRESR_ISA=avx512bf16`.
    Avx512Bf16,
    /// AVX-512F: one zmm of 16 output channels per pixel.
    Avx512,
    /// AVX2 + FMA: two ymm of 8 output channels per pixel.
    Avx2Fma,
    /// Plain Rust, always available and always correct (the reference path).
    Portable,
}

impl Isa {
    /// The fastest fp32 path this CPU runs.
    pub fn detect() -> Isa {
        [Isa::Avx512, Isa::Avx2Fma]
            .into_iter()
            .find(|i| i.available())
            .unwrap_or(Isa::Portable)
    }

    /// The path to plan for: the one [`OVERRIDE_VAR`] names, else the fastest this CPU runs in
    /// the arithmetic asked for (`bf16`: [`Isa::Avx512Bf16`] where available, the fastest f32
    /// path otherwise). An unknown name, or a path this CPU does not run, is an error that says
    /// which paths it runs.
    pub fn chosen(bf16: bool) -> Result<Isa, String> {
        let fastest = || {
            if bf16 && Isa::Avx512Bf16.available() {
                Isa::Avx512Bf16
            } else {
                Isa::detect()
            }
        };
        match std::env::var(OVERRIDE_VAR) {
            Err(std::env::VarError::NotPresent) => Ok(fastest()),
            Ok(name) if name.is_empty() => Ok(fastest()),
            Ok(name) => {
                let runs = Isa::all_available()
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join(", ");
                match Isa::from_name(&name) {
                    Some(isa) if isa.available() => Ok(isa),
                    Some(isa) => Err(format!(
                        "{OVERRIDE_VAR}={name}: this CPU does not run the {} path (it runs {runs})",
                        isa.name()
                    )),
                    None => Err(format!(
                        "{OVERRIDE_VAR}={name}: not a kernel path (avx512bf16, avx512, avx2 or portable; this \
                         CPU runs {runs})"
                    )),
                }
            }
            Err(e) => Err(format!("{OVERRIDE_VAR}: {e}")),
        }
    }

    /// Whether this CPU can run the path.
    pub fn available(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bf16 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bf16")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every path this CPU runs, fastest first (tests force each of them).
    pub fn all_available() -> Vec<Isa> {
        [Isa::Avx512Bf16, Isa::Avx512, Isa::Avx2Fma, Isa::Portable]
            .into_iter()
            .filter(|i| i.available())
            .collect()
    }

    /// The largest difference from tract's f32 result the path's outputs may have, relative to
    /// `max(1, |tract's value|)`: 1e-5 for the f32 paths (only the order of additions differs).
    /// For bf16, each weight and input is rounded with a relative error of at most 2^-9, so each
    /// product errs by at most about 2^-8 of its magnitude; a layer's sum of K products by 2^-8
    /// of the sum of their magnitudes (several times the sum itself where terms cancel), and the
    /// network carries each layer's error on. Measured: at most 5.8e-3 on the unit tests' random
    /// inputs (fast/tests.rs prints it), 0.029 on the shipped model's residual for 480x270
    /// synthetic frames (tests/isa.rs); 2^-4 leaves a margin of 2. What a viewer sees is gated
    /// through the plugin: on val at QP 32, 99.99999 % of output samples within 1 code value of
    /// the f32 path's, none more than 2 apart.
    pub fn tolerance(self) -> f32 {
        match self {
            Isa::Avx512Bf16 => 1.0 / 16.0,
            _ => 1e-5,
        }
    }

    /// Parses `avx512`, `avx2` or `portable` (for an environment override or a property).
    pub fn from_name(name: &str) -> Option<Isa> {
        match name.to_ascii_lowercase().as_str() {
            "avx512bf16" | "bf16" => Some(Isa::Avx512Bf16),
            "avx512" | "avx512f" => Some(Isa::Avx512),
            "avx2" | "avx2fma" | "avx2+fma" => Some(Isa::Avx2Fma),
            "portable" | "scalar" => Some(Isa::Portable),
            _ => None,
        }
    }

    /// A short name, the inverse of [`Isa::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512Bf16 => "avx512bf16",
            Isa::Avx512 => "avx512",
            Isa::Avx2Fma => "avx2",
            Isa::Portable => "portable",
        }
    }
}
