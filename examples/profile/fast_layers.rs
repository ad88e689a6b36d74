//! Microbenchmark: FastNet (each ISA, each row-pipeline setting) against tract, single thread,
//! one grid. The configurations run interleaved, one frame each in turn, so that the machine's
//! noise (other builds on the same cores) hits them alike; min and median per frame reported.
//!
//! `cargo run --release --example fast_layers -- [MODEL] [W H] [ITERS] [which: all|tract|fast|avx512|avx2|portable]`
//! env: `ROWS=0,1,2` row-pipeline settings (0: whole planes), `PROFILE=1` per-step times,
//! `PORTABLE=1` the portable path too (slow),
//! `DESCRIBE=1` the plan.
use gstntiresr::testing::{DEFAULT_ROWS_PER_SWEEP, FastNet, Isa};
use std::time::Instant;
use tract_onnx::prelude::*;

type Runner = Box<dyn FnMut()>;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let path = a
        .get(1)
        .cloned()
        .unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/models/ntiresr.onnx").into());
    let w: usize = a.get(2).map_or(240, |s| s.parse().unwrap());
    let h: usize = a.get(3).map_or(135, |s| s.parse().unwrap());
    let iters: usize = a.get(4).map_or(10, |s| s.parse().unwrap());
    let which = a.get(5).cloned().unwrap_or("all".into());
    let bytes = std::fs::read(&path).unwrap();
    let probe = FastNet::plan(&bytes, (w, h), Isa::Portable).unwrap();
    let shapes = probe.input_shapes();
    let gflop = probe.flop() / 1e9;
    drop(probe);
    let mut seed = 1u32;
    let mut rnd = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                (seed >> 8) as f32 / (1u32 << 24) as f32
            })
            .collect()
    };
    let x: Vec<Vec<f32>> = shapes.iter().map(|s| rnd(s.iter().product())).collect();
    println!(
        "model {path}, grid {w}x{h} (luma {}x{}), {gflop:.3} GFLOP/frame, {iters} frames each, 1 thread",
        2 * w,
        2 * h
    );
    let mut runners: Vec<(String, Runner)> = Vec::new();
    if which == "all" || which == "tract" {
        let mut model = tract_onnx::onnx().model_for_path(&path).unwrap();
        let names = ["frame", "prev_frame", "state"];
        let order: Vec<usize> = model
            .input_outlets()
            .unwrap()
            .iter()
            .map(|o| {
                names
                    .iter()
                    .position(|n| *n == model.node(o.node).name)
                    .unwrap()
            })
            .collect();
        for (ix, &k) in order.iter().enumerate() {
            let [c, h, w] = shapes[k];
            model
                .set_input_fact(ix, InferenceFact::dt_shape(f32::datum_type(), [1, c, h, w]))
                .unwrap();
        }
        let run = model.into_optimized().unwrap().into_runnable().unwrap();
        let tensors: Vec<Tensor> = order
            .iter()
            .map(|&k| {
                let [c, h, w] = shapes[k];
                Tensor::from_shape(&[1, c, h, w], &x[k]).unwrap()
            })
            .collect();
        runners.push((
            "tract (default plan)".into(),
            Box::new(move || {
                let ins: TVec<TValue> = tensors.iter().map(|t| t.clone().into_tvalue()).collect();
                std::hint::black_box(run.run(ins).unwrap());
            }),
        ));
    }
    let sweeps: Vec<usize> = std::env::var("ROWS")
        .map(|v| v.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or(vec![DEFAULT_ROWS_PER_SWEEP]);
    let mut nets = Vec::new();
    for isa in Isa::all_available() {
        let portable_too = std::env::var_os("PORTABLE").is_some() || which == "portable";
        if !["all", "fast", isa.name()].contains(&which.as_str())
            || (isa == Isa::Portable && !portable_too)
        {
            continue;
        }
        for &rows in &sweeps {
            let net = FastNet::plan_with(&bytes, (w, h), isa, rows).unwrap();
            if std::env::var_os("DESCRIBE").is_some() {
                print!("{}", net.describe());
            }
            let label = format!(
                "fast {} rows/sweep {rows} (scratch {:.1} MB)",
                isa.name(),
                net.scratch_bytes() as f64 / 1e6
            );
            nets.push(std::rc::Rc::new(std::cell::RefCell::new(net)));
            let net = nets.last().unwrap().clone();
            let x = x.clone();
            let [mut r, mut s] = net
                .borrow()
                .output_shapes()
                .map(|s| vec![0f32; s.iter().product()]);
            runners.push((
                label,
                Box::new(move || {
                    net.borrow_mut()
                        .run(&x[0], &x[1], &x[2], &mut r, &mut s)
                        .expect("buffers of the planned shapes");
                }),
            ));
        }
    }
    for (_, f) in runners.iter_mut() {
        f(); // warm-up
    }
    let profile = std::env::var_os("PROFILE").is_some();
    for n in &nets {
        n.borrow_mut().set_profiling(profile);
    }
    let mut times = vec![Vec::new(); runners.len()];
    for _ in 0..iters {
        for (i, (_, f)) in runners.iter_mut().enumerate() {
            let t = Instant::now();
            f();
            times[i].push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    for ((label, _), t) in runners.iter().zip(times.iter_mut()) {
        t.sort_by(f64::total_cmp);
        let (min, med) = (t[0], t[t.len() / 2]);
        println!(
            "{label:44} min {min:7.2} ms  median {med:7.2} ms/frame  {:6.1} GFLOP/s (at min)",
            gflop / min * 1e3
        );
    }
    if profile {
        for n in &nets {
            let n = n.borrow();
            println!(
                "per step, {} (mean ms per frame over {iters} frames):",
                n.isa().name()
            );
            for (label, secs, flop) in n.profile() {
                let ms = secs * 1e3 / iters as f64;
                let rate = if flop > 0.0 {
                    format!("{:6.1} GFLOP/s", flop / 1e9 / ms * 1e3)
                } else {
                    String::new()
                };
                println!("    {ms:7.3} ms {rate:>15}  {label}");
            }
        }
    }
}
