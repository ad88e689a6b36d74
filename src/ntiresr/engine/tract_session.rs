//! A network planned by tract for one grid size, run one frame step at a time with the temporal
//! state of one stream (what [`super::session::Session`] runs when the fast path does not).

use std::fmt;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::runtime::{RunOptions, Runnable, State, runtime_for_name};
use tract_onnx::tract_hir::internal::InferenceFact;

use super::fast::{RowsOut, all_finite};
use super::network::{Backend, Network, OUTPUTS};
use super::planes::{IN_CHANNELS, OUT_CHANNELS};
use super::workers::Workers;
use crate::onnx::{ModelError, fill_reused};

/// A network planned for one grid size, with the temporal state of one stream.
pub struct TractSession {
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

impl TractSession {
    /// Plans `net` for a `(w, h)` chroma grid on `backend`, on `workers` when there are any.
    pub fn new(
        net: &Network,
        grid: (usize, usize),
        backend: Backend,
        workers: Option<&Workers>,
    ) -> Result<TractSession, ModelError> {
        let (w, h) = grid;
        let contract = |what: String| ModelError::Contract(format!("model {}: {what}", net.name));
        let unusable = |what: String| ModelError::Run(format!("model {}: {what}", net.name));
        let mut model = net.model.clone();
        let shapes = [
            [1, IN_CHANNELS, h, w],
            [1, IN_CHANNELS, h, w],
            [1, net.state_channels, h, w],
        ];
        for (ix, shape) in net.input_order.iter().zip(shapes) {
            model
                .set_input_fact(*ix, InferenceFact::dt_shape(f32::datum_type(), shape))
                .map_err(|e| contract(e.to_string()))?;
        }
        let typed = model.into_optimized().map_err(|e| {
            contract(format!(
                "cannot be planned for a {w}x{h} grid with inputs {:?}: {e:#}",
                shapes
            ))
        })?;
        let runtime = match backend {
            Backend::Cpu | Backend::Tract => "cpu",
            Backend::Cuda => "cuda",
        };
        if backend == Backend::Cuda && !cfg!(feature = "cuda") {
            return Err(unusable(
                "backend \"cuda\" needs a plugin built with the cargo feature `cuda`".into(),
            ));
        }
        let runtime = runtime_for_name(runtime)
            .map_err(|e| unusable(format!("backend \"{runtime}\" is not usable here: {e:#}")))?
            .ok_or_else(|| unusable(format!("backend \"{runtime}\" is not available")))?;
        let options = RunOptions {
            executor: workers.map(Workers::executor),
            ..Default::default()
        };
        let runnable = runtime
            .prepare_with_options(typed, &options)
            .map_err(|e| contract(format!("cannot be prepared: {e:#}")))?;
        let state = runnable.spawn().map_err(|e| unusable(e.to_string()))?;
        let zero = |shape: [usize; 4]| Arc::new(Tensor::zero::<f32>(&shape).expect("f32 zeros"));
        Ok(TractSession {
            name: net.name.clone(),
            _runnable: runnable,
            state,
            grid,
            state_channels: net.state_channels,
            input_order: net.input_order,
            output_order: net.output_order,
            frame: zero(shapes[0]),
            prev: None,
            recurrent: zero(shapes[2]),
            residual: None,
        })
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
        let err = |what: String| ModelError::Run(format!("model {}: {what}", self.name));
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
            if !all_finite(data)
                && let Some(bad) = data.iter().find(|v| !v.is_finite())
            {
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

    /// Runs one step and copies the rows of its residual that `residual` lends there.
    pub fn step_into(&mut self, residual: &mut RowsOut) -> Result<(), ModelError> {
        self.step()?;
        let rows = self.grid.1;
        residual.copy_from(self.residual().expect("a successful step"), rows);
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
    pub fn recurrent_state(&self) -> Result<&[f32], ModelError> {
        self.recurrent
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map_err(|e| {
                ModelError::Run(format!(
                    "model {}: its recurrent state cannot be read as f32: {e}",
                    self.name
                ))
            })
    }
}

impl fmt::Debug for TractSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TractSession")
            .field("name", &self.name)
            .field("grid", &self.grid)
            .finish()
    }
}
