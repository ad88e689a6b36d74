//! One pool of threads per upscaler, whatever runs on it (bands, the mirror stream, the
//! composition, tract's executor): several pipelines in one process do not multiply idle threads.
//! Alone in its test binary, so no other test's threads are counted.

mod common;

use common::{data, frame, step_upscaler};
use gstntiresr::testing::{Backend, Network, Precision, Upscaler};

/// Threads of this process, from /proc.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Waits (up to 10 s) for the threads of dropped pools to end: rayon ends them asynchronously.
fn settle_to(count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while threads() > count && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn an_upscaler_holds_exactly_n_threads_more() {
    let network = Network::from_file(&data("tiny.onnx")).unwrap();
    let before = threads();
    for backend in [Backend::Cpu, Backend::Tract] {
        for mirror in [false, true] {
            for n in [1, 2, 4] {
                settle_to(before);
                let mut upscaler =
                    Upscaler::new(&network, 64, 300, backend, Precision::Fp32, n, mirror).unwrap();
                // A frame through it (composition included): every pool has its threads.
                step_upscaler(&mut upscaler, &frame(64, 300, 1), 64, 300);
                let added = threads() - before;
                let want = if n == 1 { 0 } else { n };
                assert_eq!(added, want, "{backend:?}, mirror {mirror}, {n} threads");
                drop(upscaler);
            }
        }
    }
}
