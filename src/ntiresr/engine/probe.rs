//! Loading a network: parsed and checked as data ([`Network::parse`]), then run on small grids,
//! once to check every output it produces against the contract and once more to measure how its
//! outputs depend on the grid's rows ([`Locality`]). It sits above the sessions it runs, so that
//! [`Network`] itself is plain data that every session reads.

use std::path::Path;

use super::network::{Backend, Locality, Network, Precision};
use super::planes::IN_CHANNELS;
use super::session::Session;
use crate::onnx::{self, ModelError};

impl Network {
    /// Reads, checks and probes the ONNX file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let (name, bytes) = onnx::read(path)?;
        Self::from_bytes(&name, &bytes)
    }

    /// Parses, checks and probes ONNX `bytes`; `name` (a file name, or "embedded model") is
    /// used in every error.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, ModelError> {
        let mut net = Network::parse(name, bytes)?;
        check_outputs(&net)?;
        net.locality = locality(&net);
        Ok(net)
    }
}

/// Runs the model once on a tiny grid and checks every output shape and value: a model that
/// cannot run there breaks the contract.
fn check_outputs(net: &Network) -> Result<(), ModelError> {
    let mut session = Session::new(net, (3, 2), Backend::Cpu, Precision::Fp32, None)?;
    session.pack_with(|f| f.fill(0.5));
    session.step().map_err(|e| match e {
        ModelError::Run(m) => ModelError::Contract(format!("{m} (on a 3x2 test grid)")),
        other => other,
    })
}

/// Rows either side of a perturbed row within which [`locality`] looks for its influence.
const REACH_SPAN: usize = 16;
/// Row shifts [`locality`] tries, smallest first, for the model's period.
const PERIODS: [usize; 4] = [1, 2, 4, 8];
/// Rows [`locality`] changes at once to measure the reach: the largest period.
const BUMPED_ROWS: usize = 8;
/// Random inputs [`locality`] measures the reach on (it keeps the farthest).
const REACH_INPUTS: usize = 3;

/// Measures the [`Locality`] of `net` on a `8 x (2 * REACH_SPAN + 1)` grid of pseudo-random
/// values ([`REACH_INPUTS`] draws, the farthest reach kept). The reach: how far from [`BUMPED_ROWS`] middle rows of the frame (and so of the
/// previous frame), and then of the state, changed, the farthest output row that moves lies. The period: the first of
/// [`PERIODS`] by which shifting the inputs shifts the outputs alike (away from the edges).
/// `None` when the reach gets to the span's edge (a model with global or far-reaching ops), no
/// period fits, or the model cannot run on that grid.
fn locality(net: &Network) -> Option<Locality> {
    let (w, h) = (8, 2 * REACH_SPAN + 1);
    let mut session = Session::new(net, (w, h), Backend::Cpu, Precision::Fp32, None).ok()?;
    let mut seed = 0x2545_f491_u32;
    let mut noise = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1 << 24) as f32
            })
            .collect()
    };
    // The rows changed: as many as the largest period, so that every phase is covered (a
    // stride-2 conv carries a change in an odd row one row further than one in an even row).
    let bumped = REACH_SPAN - BUMPED_ROWS / 2..REACH_SPAN + BUMPED_ROWS / 2;
    let bump = |data: &[f32], channels: usize| -> Vec<f32> {
        let mut data = data.to_vec();
        for c in 0..channels {
            for v in &mut data[(c * h + bumped.start) * w..(c * h + bumped.end) * w] {
                *v = 0.5 - 0.9 * (*v - 0.5);
            }
        }
        data
    };
    // Every channel's rows moved up by `by` (the last `by` rows wrap round from the top).
    let shift = |data: &[f32], by: usize| -> Vec<f32> {
        data.chunks_exact(w * h)
            .flat_map(|plane| {
                let (top, rest) = plane.split_at(by * w);
                rest.iter().chain(top).copied()
            })
            .collect()
    };
    let mut run = |frame: &[f32], state: &[f32]| -> Option<[Vec<f32>; 2]> {
        session.reset();
        session.pack_with(|f| f.copy_from_slice(frame));
        session.state_mut_with(|s| s.copy_from_slice(state));
        session.step().ok()?;
        Some([
            session.residual()?.to_vec(),
            session.recurrent_state().ok()?.to_vec(),
        ])
    };
    // The reach on several random inputs: one input can hide a row's influence (a clamp or a
    // ReLU that saturates there), all of them hardly.
    let mut reach = 0;
    let mut first = None;
    for _ in 0..REACH_INPUTS {
        let frame = noise(IN_CHANNELS * w * h);
        let state: Vec<f32> = noise(net.state_channels * w * h)
            .iter()
            .map(|v| 2.0 * v - 1.0)
            .collect();
        let base = run(&frame, &state)?;
        let moved_frame = run(&bump(&frame, IN_CHANNELS), &state)?;
        let moved_state = run(&frame, &bump(&state, net.state_channels))?;
        for moved in [moved_frame, moved_state] {
            for (a, b) in base.iter().zip(&moved) {
                for (i, _) in a.iter().zip(b).enumerate().filter(|(_, (x, y))| x != y) {
                    let row = i / w % h;
                    let from = (bumped.start.saturating_sub(row))
                        .max((row + 1).saturating_sub(bumped.end));
                    reach = reach.max(from);
                }
            }
        }
        first.get_or_insert((frame, state, base));
    }
    if reach >= bumped.start {
        return None;
    }
    let (frame, state, base) = first?;
    let period = PERIODS.into_iter().find(|&by| {
        let Some(shifted) = run(&shift(&frame, by), &shift(&state, by)) else {
            return false;
        };
        // Output row r of the shifted run is row r + by of the first, away from both edges.
        let rows = reach..h - by - reach;
        base.iter().zip(&shifted).all(|(a, b)| {
            a.chunks_exact(w * h)
                .zip(b.chunks_exact(w * h))
                .all(|(a, b)| {
                    rows.clone().all(|r| {
                        let (a, b) = (&a[(r + by) * w..][..w], &b[r * w..][..w]);
                        a.iter()
                            .zip(b)
                            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + x.abs()))
                    })
                })
        })
    })?;
    Some(Locality { reach, period })
}
