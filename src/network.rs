//! Loads an ntiresr ONNX network, checks it against the contract of `models/README.md`, and runs
//! it frame by frame on a fixed size, carrying its recurrent state.

use std::fmt;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::runtime::{RunOptions, Runnable, State, runtime_for_name};
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;
use tract_onnx::tract_hir::internal::InferenceFact;

use crate::planes::{IN_CHANNELS, OUT_CHANNELS};

/// Input tensor names, in the order the network is fed.
pub const INPUTS: [&str; 3] = ["frame", "prev_frame", "state"];
/// Output tensor names, in the order they are read.
pub const OUTPUTS: [&str; 2] = ["residual", "state_out"];

/// Where the network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    #[default]
    Cpu,
    Cuda,
}

/// A model that failed to load, to check or to run; names the model and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError(pub String);

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

/// A parsed network whose tensor names and channel counts match the contract.
pub struct Network {
    name: String,
    model: InferenceModel,
    /// Positions of `INPUTS` among the model's inputs, and of `OUTPUTS` among its outputs.
    input_order: [usize; 3],
    output_order: [usize; 2],
    state_channels: usize,
    /// How many grid rows one step carries an input's influence, if it is local (see [`reach`]).
    reach: Option<usize>,
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
        let (name, bytes) = crate::onnx::read(path)?;
        Self::from_bytes(&name, &bytes)
    }

    /// Parses ONNX `bytes`; `name` (a file name, or "embedded model") is used in every error.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, ModelError> {
        let err = |what: String| ModelError(format!("model {name}: {what}"));
        let crate::onnx::Parsed {
            model,
            inputs,
            outputs,
        } = crate::onnx::parse(bytes, err)?;
        let find = |list: &[String], want: &str, kind: &str| {
            list.iter().position(|n| n == want).ok_or_else(|| {
                err(format!(
                    "has no {kind} tensor \"{want}\" (its {kind}s are {list:?}; expected {:?})",
                    if kind == "input" {
                        &INPUTS[..]
                    } else {
                        &OUTPUTS[..]
                    }
                ))
            })
        };
        if inputs.len() != INPUTS.len() || outputs.len() != OUTPUTS.len() {
            return Err(err(format!(
                "has inputs {inputs:?} and outputs {outputs:?}; expected {INPUTS:?} and {OUTPUTS:?}"
            )));
        }
        let input_order = [
            find(&inputs, INPUTS[0], "input")?,
            find(&inputs, INPUTS[1], "input")?,
            find(&inputs, INPUTS[2], "input")?,
        ];
        let output_order = [
            find(&outputs, OUTPUTS[0], "output")?,
            find(&outputs, OUTPUTS[1], "output")?,
        ];
        let state_dim = model
            .input_fact(input_order[2])
            .ok()
            .and_then(|f| f.shape.dims().nth(1).cloned())
            .and_then(|d| d.concretize())
            .and_then(|d| d.to_usize().ok());
        let state_channels = state_dim.ok_or_else(|| {
            err("input \"state\" must declare a fixed channel count [1, C, h, w]".into())
        })?;
        let mut net = Network {
            name: name.to_string(),
            model,
            input_order,
            output_order,
            state_channels,
            reach: None,
        };
        net.check_shapes()?;
        net.reach = reach(&net);
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

    /// How many grid rows away one step carries any input's influence to its outputs, measured
    /// when the model was loaded; `None` if the model is not local enough to run in bands.
    pub fn reach(&self) -> Option<usize> {
        self.reach
    }

    /// Runs the model once on a tiny grid and checks every output shape and value.
    fn check_shapes(&mut self) -> Result<(), ModelError> {
        let mut session = self.session((3, 2), Backend::Cpu, 1)?;
        session.pack_with(|f| f.fill(0.5));
        session.step()?;
        Ok(())
    }

    /// Builds a session for a `(w, h)` chroma grid on `backend` with `threads` (0: all cores).
    pub fn session(
        &self,
        grid: (usize, usize),
        backend: Backend,
        threads: usize,
    ) -> Result<Session, ModelError> {
        let (w, h) = grid;
        let err = |what: String| ModelError(format!("model {}: {what}", self.name));
        let mut model = self.model.clone();
        let shapes = [
            [1, IN_CHANNELS, h, w],
            [1, IN_CHANNELS, h, w],
            [1, self.state_channels, h, w],
        ];
        for (ix, shape) in self.input_order.iter().zip(shapes) {
            model
                .set_input_fact(*ix, InferenceFact::dt_shape(f32::datum_type(), shape))
                .map_err(|e| err(e.to_string()))?;
        }
        let typed = model.into_optimized().map_err(|e| {
            err(format!(
                "cannot be planned for a {w}x{h} grid with inputs {:?}: {e:#}",
                shapes
            ))
        })?;
        let runtime = match backend {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
        };
        if backend == Backend::Cuda && !cfg!(feature = "cuda") {
            return Err(err(
                "backend \"cuda\" needs a plugin built with the cargo feature `cuda`".into(),
            ));
        }
        let runtime = runtime_for_name(runtime)
            .map_err(|e| err(format!("backend \"{runtime}\" is not usable here: {e:#}")))?
            .ok_or_else(|| err(format!("backend \"{runtime}\" is not available")))?;
        let threads = resolve_threads(threads);
        let options = RunOptions {
            executor: (threads > 1)
                .then(|| tract_linalg::multithread::Executor::multithread(threads)),
            ..Default::default()
        };
        let runnable = runtime
            .prepare_with_options(typed, &options)
            .map_err(|e| err(format!("cannot be prepared: {e:#}")))?;
        let state = runnable.spawn().map_err(|e| err(e.to_string()))?;
        let zero = |shape: [usize; 4]| Arc::new(Tensor::zero::<f32>(&shape).expect("f32 zeros"));
        Ok(Session {
            name: self.name.clone(),
            _runnable: runnable,
            state,
            grid,
            state_channels: self.state_channels,
            input_order: self.input_order,
            output_order: self.output_order,
            frame: zero(shapes[0]),
            prev: None,
            recurrent: zero(shapes[2]),
            residual: None,
        })
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("name", &self.name)
            .field("grid", &self.grid)
            .finish()
    }
}

/// Lets `fill` write an f32 input tensor in place: the same buffer from run to run, or a new
/// one of the same shape while tract still holds the last.
pub(crate) fn fill_reused<R>(tensor: &mut Arc<Tensor>, fill: impl FnOnce(&mut [f32]) -> R) -> R {
    if Arc::get_mut(tensor).is_none() {
        let shape = tensor.shape().to_vec();
        *tensor = Arc::new(Tensor::zero::<f32>(&shape).expect("f32 zeros"));
    }
    let unique = Arc::get_mut(tensor).expect("unique input buffer");
    let mut view = unique.try_as_plain_ram_mut().expect("plain tensor");
    fill(view.as_slice_mut::<f32>().expect("f32 tensor"))
}

/// Rows either side of a perturbed row within which [`reach`] looks for its influence.
const REACH_SPAN: usize = 16;

/// Measures how far one step of `net` carries an input's influence along the grid's rows: runs
/// it on a `8 x (2 * REACH_SPAN + 1)` grid of pseudo-random values, then again with the middle row
/// of the frame (and so of the previous frame), and then of the state, changed. The farthest
/// output row that moved is the reach; `None` when it reaches the span's edge (a model with
/// global or far-reaching ops) or the model cannot run on that grid.
fn reach(net: &Network) -> Option<usize> {
    let (w, h) = (8, 2 * REACH_SPAN + 1);
    let mut session = net.session((w, h), Backend::Cpu, 1).ok()?;
    let mut seed = 0x2545_f491_u32;
    let mut noise = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1 << 24) as f32
            })
            .collect()
    };
    let frame = noise(IN_CHANNELS * w * h);
    let state: Vec<f32> = noise(net.state_channels * w * h)
        .iter()
        .map(|v| 2.0 * v - 1.0)
        .collect();
    let bump = |data: &[f32], channels: usize| -> Vec<f32> {
        let mut data = data.to_vec();
        for c in 0..channels {
            for v in &mut data[(c * h + REACH_SPAN) * w..(c * h + REACH_SPAN + 1) * w] {
                *v = 0.5 - 0.9 * (*v - 0.5);
            }
        }
        data
    };
    let mut run = |frame: &[f32], state: &[f32]| -> Option<[Vec<f32>; 2]> {
        session.reset();
        session.pack_with(|f| f.copy_from_slice(frame));
        session.state_mut_with(|s| s.copy_from_slice(state));
        session.step().ok()?;
        Some([
            session.residual()?.to_vec(),
            session.recurrent_state().to_vec(),
        ])
    };
    let base = run(&frame, &state)?;
    let moved_frame = run(&bump(&frame, IN_CHANNELS), &state)?;
    let moved_state = run(&frame, &bump(&state, net.state_channels))?;
    let mut farthest = 0;
    for moved in [moved_frame, moved_state] {
        for (a, b) in base.iter().zip(&moved) {
            for (i, _) in a.iter().zip(b).enumerate().filter(|(_, (x, y))| x != y) {
                farthest = farthest.max((i / w % h).abs_diff(REACH_SPAN));
            }
        }
    }
    (farthest < REACH_SPAN).then_some(farthest)
}

/// The thread count the `n-threads` property means: 0 is every core.
pub fn resolve_threads(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// A network planned for one grid size, with the temporal state of one stream.
pub struct Session {
    name: String,
    _runnable: Box<dyn Runnable>,
    state: Box<dyn State>,
    grid: (usize, usize),
    state_channels: usize,
    input_order: [usize; 3],
    output_order: [usize; 2],
    /// The packed current frame (reused across frames when nothing else holds it).
    frame: Arc<Tensor>,
    /// The packed previous frame, `None` after a reset.
    prev: Option<Arc<Tensor>>,
    recurrent: Arc<Tensor>,
    residual: Option<TValue>,
}

impl Session {
    /// The chroma grid `(w, h)` this session was planned for.
    pub fn grid(&self) -> (usize, usize) {
        self.grid
    }

    /// Forgets every previous frame: the next step starts as the first frame of a stream.
    pub fn reset(&mut self) {
        self.prev = None;
        let shape = self.recurrent.shape().to_vec();
        self.recurrent = Arc::new(Tensor::zero::<f32>(&shape).expect("f32 zeros"));
    }

    /// Lets `edit` change the recurrent state (`state_channels x h x w`) the next step reads.
    pub fn state_mut_with<R>(&mut self, edit: impl FnOnce(&mut [f32]) -> R) -> R {
        let tensor = Arc::make_mut(&mut self.recurrent);
        let mut view = tensor.try_as_plain_ram_mut().expect("plain tensor");
        edit(view.as_slice_mut::<f32>().expect("f32 tensor"))
    }

    /// Lets `fill` write the current frame (`IN_CHANNELS x h x w`) into the input buffer, which
    /// is reused from frame to frame whenever the network no longer holds it.
    pub fn pack_with<R>(&mut self, fill: impl FnOnce(&mut [f32]) -> R) -> R {
        fill_reused(&mut self.frame, fill)
    }

    /// Runs one step on the packed frame; the residual is then readable with [`Self::residual`].
    pub fn step(&mut self) -> Result<(), ModelError> {
        let err = |what: String| ModelError(format!("model {}: {what}", self.name));
        let prev = self.prev.clone().unwrap_or_else(|| self.frame.clone());
        let mut inputs: TVec<TValue> = tvec![TValue::from_const(self.frame.clone()); 3];
        inputs[self.input_order[0]] = TValue::from_const(self.frame.clone());
        inputs[self.input_order[1]] = TValue::from_const(prev);
        inputs[self.input_order[2]] = TValue::from_const(self.recurrent.clone());
        self.residual = None;
        let mut outputs = self
            .state
            .run(inputs)
            .map_err(|e| err(format!("failed to run: {e:#}")))?;
        let (w, h) = self.grid;
        let residual = outputs[self.output_order[0]].clone();
        let state = std::mem::replace(
            &mut outputs[self.output_order[1]],
            TValue::from_const(self.recurrent.clone()),
        );
        for (value, name, c) in [
            (&residual, OUTPUTS[0], OUT_CHANNELS),
            (&state, OUTPUTS[1], self.state_channels),
        ] {
            if value.shape() != [1, c, h, w] {
                return Err(err(format!(
                    "output \"{name}\" has shape {:?}, expected {:?}",
                    value.shape(),
                    [1, c, h, w]
                )));
            }
            let data = value
                .try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>())
                .map_err(|e| err(format!("output \"{name}\" is not f32: {e}")))?;
            if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
                return Err(err(format!(
                    "output \"{name}\" holds a non-finite value {bad}"
                )));
            }
        }
        self.recurrent = state.into_arc_tensor();
        self.prev = Some(self.frame.clone());
        self.residual = Some(residual);
        Ok(())
    }

    /// The residual of the last successful step (`OUT_CHANNELS x h x w`).
    pub fn residual(&self) -> Option<&[f32]> {
        self.residual
            .as_ref()
            .and_then(|r| r.as_plain_ram())
            .and_then(|v| v.as_slice::<f32>().ok())
    }

    /// The recurrent state after the last step (`state_channels x h x w`).
    pub fn recurrent_state(&self) -> &[f32] {
        self.recurrent
            .as_plain_ram()
            .and_then(|v| v.as_slice::<f32>().ok())
            .unwrap_or(&[])
    }
}
