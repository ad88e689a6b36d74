//! A network run by our own kernels ([`super::fast`]) for one grid size, with the temporal state
//! of one stream: the same interface as [`super::tract_session::TractSession`].

use super::fast::{DEFAULT_ROWS_PER_SWEEP, FastNet, Isa, RowsOut};
use super::network::{INPUTS, Network, OUTPUTS};
use super::planes::{IN_CHANNELS, OUT_CHANNELS};
use crate::onnx::ModelError;

/// [`FastNet`] with its input and output buffers, kept from frame to frame.
pub struct FastSession {
    name: String,
    net: FastNet,
    frame: Vec<f32>,
    /// The previous frame's packed input, when there is one (`false` after a reset).
    prev: Vec<f32>,
    has_prev: bool,
    state: Vec<f32>,
    state_out: Vec<f32>,
    /// The whole residual of the last [`Self::step`], allocated by its first call.
    residual: Vec<f32>,
    kept: bool,
}

impl std::fmt::Debug for FastSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastSession")
            .field("name", &self.name)
            .field("grid", &self.net.grid())
            .field("isa", &self.net.isa())
            .finish()
    }
}

/// Why [`FastSession::new`] gives no session.
#[derive(Debug)]
pub enum Refusal {
    /// The planner does not cover the model (an op, attribute or shape): tract runs it.
    NotCovered(String),
    /// The model's tensors break the contract: nothing may run it.
    Contract(ModelError),
}

impl FastSession {
    /// Plans `net` for a `(w, h)` chroma grid on `isa`: a refusal says why the fast path does not
    /// cover it (the caller then runs tract), or that the planned tensors break the contract.
    pub fn new(net: &Network, grid: (usize, usize), isa: Isa) -> Result<Self, Refusal> {
        let fast = FastNet::plan_proto(&net.proto, grid, isa, DEFAULT_ROWS_PER_SWEEP)
            .map_err(Refusal::NotCovered)?;
        let (w, h) = grid;
        let expected = [
            [IN_CHANNELS, h, w],
            [IN_CHANNELS, h, w],
            [net.state_channels, h, w],
            [OUT_CHANNELS, h, w],
            [net.state_channels, h, w],
        ];
        let planned = fast.input_shapes().into_iter().chain(fast.output_shapes());
        let names = INPUTS.iter().chain(&OUTPUTS);
        for ((shape, want), name) in planned.zip(expected).zip(names) {
            if shape != want {
                return Err(Refusal::Contract(ModelError::Contract(format!(
                    "model {}: {} \"{name}\" has {} channels of {}x{}, the contract needs {} \
                     ({:?} for a {w}x{h} grid)",
                    net.name,
                    if INPUTS.contains(name) {
                        "input"
                    } else {
                        "output"
                    },
                    shape[0],
                    shape[2],
                    shape[1],
                    want[0],
                    want
                ))));
            }
        }
        let cells = grid.0 * grid.1;
        let state = net.state_channels * cells;
        Ok(FastSession {
            name: net.name.clone(),
            net: fast,
            frame: vec![0.0; IN_CHANNELS * cells],
            prev: vec![0.0; IN_CHANNELS * cells],
            has_prev: false,
            state: vec![0.0; state],
            state_out: vec![0.0; state],
            residual: Vec::new(),
            kept: false,
        })
    }

    /// The kernels in use, for messages.
    pub fn isa(&self) -> Isa {
        self.net.isa()
    }

    /// Forgets every previous frame: the next step starts as the first frame of a stream.
    pub fn reset(&mut self) {
        self.has_prev = false;
        self.kept = false;
        self.state.fill(0.0);
    }

    /// Lets `edit` change the recurrent state (`state_channels x h x w`) the next step reads.
    pub fn state_mut_with<R>(&mut self, edit: impl FnOnce(&mut [f32]) -> R) -> R {
        edit(&mut self.state)
    }

    /// Lets `fill` write the current frame (`IN_CHANNELS x h x w`) into the input buffer.
    pub fn pack_with<R>(&mut self, fill: impl FnOnce(&mut [f32]) -> R) -> R {
        fill(&mut self.frame)
    }

    /// Runs one step, writing the rows of the residual that `residual` lends; a non-finite
    /// output is an error and leaves the state as it was.
    pub fn step_into(&mut self, residual: &RowsOut) -> Result<(), ModelError> {
        self.kept = false;
        let prev = if self.has_prev {
            &self.prev
        } else {
            &self.frame
        };
        let finite = self
            .net
            .run_into(
                &self.frame,
                prev,
                &self.state,
                residual,
                &mut self.state_out,
            )
            .map_err(|e| ModelError::Run(format!("model {}: {e}", self.name)))?;
        if let Some(k) = finite.iter().position(|&f| !f) {
            return Err(ModelError::Run(format!(
                "model {}: output \"{}\" holds a non-finite value",
                self.name,
                ["residual", "state_out"][k]
            )));
        }
        std::mem::swap(&mut self.state, &mut self.state_out);
        std::mem::swap(&mut self.prev, &mut self.frame);
        self.has_prev = true;
        Ok(())
    }

    /// Runs one step, keeping the whole residual for [`Self::residual`].
    pub fn step(&mut self) -> Result<(), ModelError> {
        let (w, h) = self.net.grid();
        let mut kept = std::mem::take(&mut self.residual);
        kept.resize(OUT_CHANNELS * w * h, 0.0);
        let result = self.step_into(&RowsOut::whole(&mut kept, OUT_CHANNELS, h, w));
        self.residual = kept;
        self.kept = result.is_ok();
        result
    }

    /// The residual of the last [`Self::step`] (`OUT_CHANNELS x h x w`), if it succeeded.
    pub fn residual(&self) -> Option<&[f32]> {
        self.kept.then_some(&self.residual[..])
    }

    /// The recurrent state after the last step (`state_channels x h x w`).
    pub fn recurrent_state(&self) -> &[f32] {
        &self.state
    }
}
