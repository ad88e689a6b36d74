//! Loads an ntiresr ONNX network and checks it against the contract of `models/README.md`;
//! [`super::session::Session`] runs it frame by frame.

use std::fmt;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid, InferenceFact};
use tract_onnx::tract_hir::internal::DimLike;

use super::planes::{IN_CHANNELS, OUT_CHANNELS};
use super::session::Session;
use crate::onnx::{self, ModelError};

/// Input tensor names, in the order the network is fed.
pub const INPUTS: [&str; 3] = ["frame", "prev_frame", "state"];
/// Output tensor names, in the order they are read.
pub const OUTPUTS: [&str; 2] = ["residual", "state_out"];

/// Where the network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The CPU: our own kernels (`engine::fast`) where they cover the model, tract otherwise.
    #[default]
    Cpu,
    /// The CPU, tract alone.
    Tract,
    /// tract-cuda.
    Cuda,
}

/// A parsed network whose tensor names and channel counts match the contract.
pub struct Network {
    pub(super) name: String,
    /// The ONNX file, which the fast path plans from.
    pub(super) bytes: Vec<u8>,
    pub(super) model: InferenceModel,
    /// Positions of `INPUTS` among the model's inputs, and of `OUTPUTS` among its outputs.
    pub(super) input_order: [usize; 3],
    pub(super) output_order: [usize; 2],
    pub(super) state_channels: usize,
    /// How the outputs depend on the grid's rows, if the model is local (see [`locality`]).
    locality: Option<Locality>,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("name", &self.name)
            .field("state_channels", &self.state_channels)
            .finish()
    }
}

impl Network {
    /// Reads the ONNX file at `path`.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ModelError> {
        let (name, bytes) = onnx::read(path)?;
        Self::from_bytes(&name, &bytes)
    }

    /// Parses ONNX `bytes`; `name` (a file name, or "embedded model") is used in every error.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, ModelError> {
        let what = format!("model {name}");
        let parsed = onnx::parse(bytes, &what)?;
        let (input_order, output_order) = parsed.order(INPUTS, OUTPUTS, &what)?;
        let model = parsed.model;
        let channels = |fact: TractResult<&InferenceFact>| {
            fact.ok()
                .and_then(|f| f.shape.dims().nth(1).cloned())
                .and_then(|d| d.concretize())
                .and_then(|d| d.to_usize().ok())
        };
        let state_channels = channels(model.input_fact(input_order[2])).ok_or_else(|| {
            ModelError::Contract(format!(
                "{what}: input \"state\" must declare a fixed channel count [1, C, h, w]"
            ))
        })?;
        // Every channel count the model declares, before anything runs it.
        let declared = [
            (
                INPUTS[0],
                channels(model.input_fact(input_order[0])),
                IN_CHANNELS,
            ),
            (
                INPUTS[1],
                channels(model.input_fact(input_order[1])),
                IN_CHANNELS,
            ),
            (
                OUTPUTS[0],
                channels(model.output_fact(output_order[0])),
                OUT_CHANNELS,
            ),
            (
                OUTPUTS[1],
                channels(model.output_fact(output_order[1])),
                state_channels,
            ),
        ];
        for (name, got, want) in declared {
            if let Some(got) = got.filter(|&got| got != want) {
                return Err(ModelError::Contract(format!(
                    "{what}: \"{name}\" declares {got} channels, the contract needs {want} \
                     ([1, {want}, h, w]; \"state\" declares {state_channels})"
                )));
            }
        }
        let mut net = Network {
            name: name.to_string(),
            bytes: bytes.to_vec(),
            model,
            input_order,
            output_order,
            state_channels,
            locality: None,
        };
        net.check_shapes()?;
        net.locality = locality(&net);
        Ok(net)
    }

    /// The model's name as used in messages (its path, or "embedded model").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Channels of the recurrent state tensor.
    pub fn state_channels(&self) -> usize {
        self.state_channels
    }

    /// How far and with which period the outputs depend on the grid's rows, measured when the
    /// model was loaded; `None` if the model cannot run in bands of rows.
    pub fn locality(&self) -> Option<Locality> {
        self.locality
    }

    /// How many grid rows away one step carries any input's influence to its outputs.
    pub fn reach(&self) -> Option<usize> {
        self.locality.map(|l| l.reach)
    }

    /// Runs the model once on a tiny grid and checks every output shape and value: a model that
    /// cannot run there breaks the contract.
    fn check_shapes(&mut self) -> Result<(), ModelError> {
        let mut session = Session::new(self, (3, 2), Backend::Cpu, 1)?;
        session.pack_with(|f| f.fill(0.5));
        session.step().map_err(|e| match e {
            ModelError::Run(m) => ModelError::Contract(format!("{m} (on a 3x2 test grid)")),
            other => other,
        })
    }
}

/// Rows either side of a perturbed row within which [`locality`] looks for its influence.
const REACH_SPAN: usize = 16;
/// Row shifts [`locality`] tries, smallest first, for the model's period.
const PERIODS: [usize; 4] = [1, 2, 4, 8];
/// Rows [`locality`] changes at once to measure the reach: the largest period.
const BUMPED_ROWS: usize = 8;
/// Random inputs [`locality`] measures the reach on (it keeps the farthest).
const REACH_INPUTS: usize = 3;

/// How a model's outputs depend on the grid's rows, measured at load: what running it in bands of
/// rows needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locality {
    /// How many grid rows away one step carries any input's influence to its outputs.
    pub reach: usize,
    /// The smallest shift, in grid rows, that shifts the outputs alike (1 for a model of plain
    /// convolutions; 2 with a stride-2 convolution on the grid): bands start on its multiples.
    pub period: usize,
}

/// Measures the [`Locality`] of `net` on a `8 x (2 * REACH_SPAN + 1)` grid of pseudo-random
/// values ([`REACH_INPUTS`] draws, the farthest reach kept). The reach: how far from [`BUMPED_ROWS`] middle rows of the frame (and so of the
/// previous frame), and then of the state, changed, the farthest output row that moves lies. The period: the first of
/// [`PERIODS`] by which shifting the inputs shifts the outputs alike (away from the edges).
/// `None` when the reach gets to the span's edge (a model with global or far-reaching ops), no
/// period fits, or the model cannot run on that grid.
fn locality(net: &Network) -> Option<Locality> {
    let (w, h) = (8, 2 * REACH_SPAN + 1);
    let mut session = Session::new(net, (w, h), Backend::Cpu, 1).ok()?;
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

/// The thread count the `n-threads` property means: 0 is every core.
pub fn resolve_threads(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}
