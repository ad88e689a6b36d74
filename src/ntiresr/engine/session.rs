//! A network planned for one grid size, run one frame step at a time with the temporal state of
//! one stream: by the plugin's own kernels ([`super::fast`]) where they cover the model on the
//! CPU, by tract otherwise. Both give the same outputs within 1e-5 (`fast` tests).

use super::fast::{Isa, RowsOut};
use super::fast_session::{FastSession, Refusal};
use super::network::{Backend, Network, Precision};
use super::tract_session::TractSession;
use super::workers::Workers;
use crate::onnx::ModelError;

/// One stream's network run, by either engine.
#[derive(Debug)]
pub enum Session {
    /// Boxed: the planned program is large beside tract's handles.
    Fast(Box<FastSession>),
    /// tract, and why the fast path does not run the model (when it was asked to).
    Tract(TractSession, Option<String>),
}

impl Session {
    /// Plans `net` for a `(w, h)` chroma grid on `backend` (the own kernels in `precision`);
    /// tract runs on `workers` when there are any (the fast path runs on the calling thread).
    pub fn new(
        net: &Network,
        grid: (usize, usize),
        backend: Backend,
        precision: Precision,
        workers: Option<&Workers>,
    ) -> Result<Self, ModelError> {
        let why_not_fast = match backend {
            Backend::Cpu => {
                match FastSession::new(
                    net,
                    grid,
                    Isa::chosen(precision.wants_bf16()).map_err(ModelError::Run)?,
                ) {
                    Ok(fast) => return Ok(Session::Fast(Box::new(fast))),
                    Err(Refusal::NotCovered(why)) => Some(why),
                    Err(Refusal::Contract(e)) => return Err(e),
                }
            }
            Backend::Tract | Backend::Cuda => None,
        };
        let tract = TractSession::new(net, grid, backend, workers)?;
        Ok(Session::Tract(tract, why_not_fast))
    }

    /// Which kernels run the network, in words (for the log).
    pub fn kernels(&self) -> String {
        match self {
            Session::Fast(fast) => format!("own kernels ({})", fast.isa().name()),
            Session::Tract(_, None) => "tract".into(),
            Session::Tract(_, Some(why)) => format!("tract (the own kernels do not run it: {why})"),
        }
    }

    /// Forgets every previous frame: the next step starts as the first frame of a stream.
    pub fn reset(&mut self) {
        match self {
            Session::Fast(s) => s.reset(),
            Session::Tract(s, _) => s.reset(),
        }
    }

    /// Lets `edit` change the recurrent state (`state_channels x h x w`) the next step reads.
    pub fn state_mut_with<R>(&mut self, edit: impl FnOnce(&mut [f32]) -> R) -> R {
        match self {
            Session::Fast(s) => s.state_mut_with(edit),
            Session::Tract(s, _) => s.state_mut_with(edit),
        }
    }

    /// Lets `fill` write the current frame (`IN_CHANNELS x h x w`) into the input buffer.
    pub fn pack_with<R>(&mut self, fill: impl FnOnce(&mut [f32]) -> R) -> R {
        match self {
            Session::Fast(s) => s.pack_with(fill),
            Session::Tract(s, _) => s.pack_with(fill),
        }
    }

    /// Runs one step on the packed frame; the residual is then readable with [`Self::residual`].
    pub fn step(&mut self) -> Result<(), ModelError> {
        match self {
            Session::Fast(s) => s.step(),
            Session::Tract(s, _) => s.step(),
        }
    }

    /// Runs one step on the packed frame, writing the rows of the residual that `residual` lends
    /// (a band's own rows of the frame's residual).
    pub fn step_into(&mut self, residual: &mut RowsOut) -> Result<(), ModelError> {
        match self {
            Session::Fast(s) => s.step_into(residual),
            Session::Tract(s, _) => s.step_into(residual),
        }
    }

    /// The residual of the last successful [`Self::step`] (`OUT_CHANNELS x h x w`).
    pub fn residual(&self) -> Option<&[f32]> {
        match self {
            Session::Fast(s) => s.residual(),
            Session::Tract(s, _) => s.residual(),
        }
    }

    /// The recurrent state after the last step (`state_channels x h x w`).
    pub fn recurrent_state(&self) -> Result<&[f32], ModelError> {
        match self {
            Session::Fast(s) => Ok(s.recurrent_state()),
            Session::Tract(s, _) => s.recurrent_state(),
        }
    }
}
