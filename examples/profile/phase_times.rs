//! Where a frame's time goes in the upscaler (no GStreamer): the network step (packing, the
//! bands, the residual) and the composition of each output plane, for 480x270 I420 frames.
//!
//!     cargo run --release --example phase_times -- [frames=40] [n-threads=0]
use gstntiresr::testing::{Backend, EMBEDDED_MODEL, Network, Plane, PlaneMut, Precision, Upscaler};
use std::time::Instant;

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().unwrap())
        .collect();
    let (frames, threads) = (
        a.first().copied().unwrap_or(40),
        a.get(1).copied().unwrap_or(0),
    );
    let (w, h) = (480usize, 270usize);
    let net = Network::from_bytes("embedded", EMBEDDED_MODEL).unwrap();
    let mut up = Upscaler::new(&net, w, h, Backend::Cpu, Precision::Fp32, threads, false).unwrap();
    let y: Vec<u8> = (0..w * h).map(|i| (i * 37 % 251) as u8).collect();
    let c: Vec<u8> = (0..w * h / 4).map(|i| (i * 13 % 253) as u8).collect();
    let plane = |d: &'static [u8], pw, ph| Plane {
        data: d,
        stride: pw,
        step: 1,
        width: pw,
        height: ph,
    };
    let (y, c): (&'static [u8], &'static [u8]) = (y.leak(), c.leak());
    let planes = [
        plane(y, w, h),
        plane(c, w / 2, h / 2),
        plane(c, w / 2, h / 2),
    ];
    let mut outs = [
        vec![0u8; 16 * w * h],
        vec![0u8; 4 * w * h],
        vec![0u8; 4 * w * h],
    ];
    let mut t = [0.0f64; 4];
    let mut best = [f64::MAX; 4];
    for f in 0..frames + 3 {
        let t0 = Instant::now();
        up.step(planes).unwrap();
        let mut times = [t0.elapsed().as_secs_f64(), 0.0, 0.0, 0.0];
        for (i, out) in outs.iter_mut().enumerate() {
            let (ow, oh) = if i == 0 {
                (4 * w, 4 * h)
            } else {
                (2 * w, 2 * h)
            };
            let t1 = Instant::now();
            let mut dst = PlaneMut {
                data: out,
                stride: ow,
                step: 1,
                width: ow,
                height: oh,
            };
            up.compose(i, planes[i], &mut dst);
            times[i + 1] = t1.elapsed().as_secs_f64();
        }
        if f >= 3 {
            for k in 0..4 {
                t[k] += times[k];
                best[k] = best[k].min(times[k]);
            }
        }
    }
    let n = frames as f64;
    for (k, name) in ["step", "compose Y", "compose U", "compose V"]
        .iter()
        .enumerate()
    {
        println!(
            "{name:10} mean {:7.3} ms  min {:7.3} ms",
            1e3 * t[k] / n,
            1e3 * best[k]
        );
    }
    println!("total mean {:.3} ms", 1e3 * t.iter().sum::<f64>() / n);
}
