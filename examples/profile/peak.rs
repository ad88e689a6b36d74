//! Each kernel path's arithmetic peak on this machine, measured (independent multiply-add chains
//! on every thread at once), as one JSON object of GFLOP/s per path the CPU runs, for the
//! benchmark's "share of the path's peak".
//!
//!     cargo run --release --example peak -- [threads=all] [seconds=0.3]
use gstntiresr::testing::{Isa, peak_gflops};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let threads = match a.first().map(|s| s.parse::<usize>()) {
        Some(Ok(n)) if n > 0 => n,
        None | Some(Ok(_)) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(Err(e)) => exit(&format!("threads {:?}: {e}", a[0])),
    };
    let seconds = match a.get(1).map(|s| s.parse::<f64>()) {
        Some(Ok(s)) if s > 0.0 => s,
        None => 0.3,
        Some(_) => exit(&format!("seconds {:?}: a positive number expected", a[1])),
    };
    let paths: Vec<String> = Isa::all_available()
        .into_iter()
        .filter_map(|isa| {
            let g = peak_gflops(isa, threads, seconds)?;
            Some(format!("\"{}\": {g:.1}", isa.name()))
        })
        .collect();
    println!(
        "{{\"threads\": {threads}, \"gflops\": {{{}}}}}",
        paths.join(", ")
    );
}

fn exit(msg: &str) -> ! {
    eprintln!("peak: {msg}");
    std::process::exit(2)
}
