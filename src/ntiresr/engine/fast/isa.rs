//! Which instruction-set path the kernels take: the fastest the CPU runs, detected at run time,
//! unless the environment variable [`OVERRIDE_VAR`] names another.

/// The environment variable that forces a path (`avx512`, `avx2` or `portable`), read when a
/// network is planned: for tests and benchmarks of every path the CPU has.
pub const OVERRIDE_VAR: &str = "NTIRESR_ISA";

/// The kernel family a [`super::FastNet`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512F: one zmm of 16 output channels per pixel.
    Avx512,
    /// AVX2 + FMA: two ymm of 8 output channels per pixel.
    Avx2Fma,
    /// Plain Rust, always available and always correct (the reference path).
    Portable,
}

impl Isa {
    /// The fastest path this CPU runs.
    pub fn detect() -> Isa {
        [Isa::Avx512, Isa::Avx2Fma]
            .into_iter()
            .find(|i| i.available())
            .unwrap_or(Isa::Portable)
    }

    /// The path to plan for: the one [`OVERRIDE_VAR`] names, else [`Isa::detect`]'s. An unknown
    /// name, or a path this CPU does not run, is an error that says which paths it runs.
    pub fn chosen() -> Result<Isa, String> {
        match std::env::var(OVERRIDE_VAR) {
            Err(std::env::VarError::NotPresent) => Ok(Isa::detect()),
            Ok(name) if name.is_empty() => Ok(Isa::detect()),
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
                        "{OVERRIDE_VAR}={name}: not a kernel path (avx512, avx2 or portable; this \
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
        [Isa::Avx512, Isa::Avx2Fma, Isa::Portable]
            .into_iter()
            .filter(|i| i.available())
            .collect()
    }

    /// Parses `avx512`, `avx2` or `portable` (for an environment override or a property).
    pub fn from_name(name: &str) -> Option<Isa> {
        match name.to_ascii_lowercase().as_str() {
            "avx512" | "avx512f" => Some(Isa::Avx512),
            "avx2" | "avx2fma" | "avx2+fma" => Some(Isa::Avx2Fma),
            "portable" | "scalar" => Some(Isa::Portable),
            _ => None,
        }
    }

    /// A short name, the inverse of [`Isa::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2Fma => "avx2",
            Isa::Portable => "portable",
        }
    }
}
