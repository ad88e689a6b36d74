//! `NTIRESR_ISA` forces a kernel path: each path this CPU runs, forced through the environment as
//! a user would, upscales as tract does (within the path's tolerance: 1e-5 for f32; the shipped
//! model, in bands and whole), and
//! a path it does not run, or no path at all, is an error naming the variable. Each case runs in
//! a child process of this test binary, so the variable is set before anything reads it.

mod common;

use std::process::Command;

use common::{max_abs_diff, step_upscaler};
use gstntiresr::testing::{Backend, Isa, Network, Precision, Upscaler};

const VAR: &str = "NTIRESR_ISA";
/// Set in the child: the case it runs.
const CHILD: &str = "NTIRESR_ISA_TEST_CHILD";

/// Runs this binary's `child` test alone with `NTIRESR_ISA=isa`; its exit status and output.
fn run_child(isa: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(VAR, isa)
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// The child's case: the forced path runs the network and matches tract. Run only by the tests
/// below, in a child process (ignored in the parent).
#[test]
#[ignore = "run by the other tests, in a child process with NTIRESR_ISA set"]
fn child() {
    assert!(
        std::env::var_os(CHILD).is_some(),
        "run by the other tests only"
    );
    let network = match Network::from_bytes("embedded", gstntiresr::testing::EMBEDDED_MODEL) {
        Ok(network) => network,
        Err(e) => panic!("LOAD ERROR: {e}"),
    };
    let want = std::env::var(VAR).unwrap();
    for (width, height, threads) in [(480u32, 270u32, 2usize), (97, 55, 1)] {
        let (w, h) = (width as usize, height as usize);
        let mut own = Upscaler::new(
            &network,
            w,
            h,
            Backend::Cpu,
            Precision::Fp32,
            threads,
            false,
        )
        .unwrap();
        let mut tract = Upscaler::new(
            &network,
            w,
            h,
            Backend::Tract,
            Precision::Fp32,
            threads,
            false,
        )
        .unwrap();
        println!("KERNELS: {}", own.kernels());
        assert_eq!(own.kernels(), format!("own kernels ({want})"));
        for t in 0..3 {
            let input = common::frame(width, height, t);
            step_upscaler(&mut own, &input, width, height);
            step_upscaler(&mut tract, &input, width, height);
            let worst = max_abs_diff(own.residual(), tract.residual());
            let tolerance = Isa::from_name(&want).unwrap().tolerance();
            assert!(
                worst <= tolerance,
                "{want} {width}x{height} frame {t}: {worst}"
            );
        }
    }
}

#[test]
fn every_path_this_cpu_runs_can_be_forced() {
    for isa in Isa::all_available() {
        let (ok, out) = run_child(isa.name());
        assert!(ok, "{}: {out}", isa.name());
        assert!(
            out.contains(&format!("KERNELS: own kernels ({})", isa.name())),
            "{out}"
        );
    }
}

#[test]
fn a_path_it_cannot_run_is_an_error_naming_the_variable() {
    let (ok, out) = run_child("sse9");
    assert!(
        !ok && out.contains("LOAD ERROR: NTIRESR_ISA=sse9: not a kernel path"),
        "{out}"
    );
    let missing = [Isa::Avx512, Isa::Avx2Fma]
        .into_iter()
        .find(|i| !i.available());
    if let Some(isa) = missing {
        let (ok, out) = run_child(isa.name());
        assert!(!ok && out.contains("this CPU does not run"), "{out}");
    }
}
