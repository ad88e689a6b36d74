//! One I420 frame in, one x4 I420 frame out: packing, the network step and the composition.

use crate::network::{Backend, ModelError, Network, Session, resolve_threads};
use crate::planes::{self, Plane, PlaneMut};

/// Runs a [`Network`] on frames of one size, keeping the stream's temporal state.
pub struct Upscaler {
    session: Session,
    scratch: Vec<f32>,
    /// Threads for the composition: the same count as the network's.
    threads: usize,
}

impl Upscaler {
    /// Plans `network` for `width x height` input frames.
    pub fn new(
        network: &Network,
        width: usize,
        height: usize,
        backend: Backend,
        threads: usize,
    ) -> Result<Self, ModelError> {
        let session = network.session(planes::grid(width, height), backend, threads)?;
        Ok(Upscaler {
            session,
            scratch: Vec::new(),
            threads: resolve_threads(threads),
        })
    }

    /// Drops the temporal state: the next frame is processed as the first of a stream.
    pub fn reset(&mut self) {
        self.session.reset();
    }

    /// Runs the network on `input` (Y, U, V); then [`Self::compose`] writes each output plane.
    pub fn step(&mut self, input: [Plane; 3]) -> Result<(), ModelError> {
        let [y, u, v] = input;
        assert_eq!(
            self.session.grid(),
            planes::grid(y.width, y.height),
            "frame size differs from the planned size"
        );
        self.session.pack_with(|buf| planes::pack(y, u, v, buf));
        self.session.step()
    }

    /// Writes output plane `index` (0: Y, 1: U, 2: V): the bicubic x4 of `src` plus the residual
    /// of the last [`Self::step`].
    pub fn compose(&mut self, index: usize, src: Plane, dst: &mut PlaneMut) {
        let (first_channel, block) = [(0, 8), (64, 4), (80, 4)][index];
        let residual = self
            .session
            .residual()
            .expect("compose after a successful step");
        let grid = self.session.grid();
        let scratch = &mut self.scratch;
        planes::upscale_add(
            src,
            dst,
            residual,
            grid,
            first_channel,
            block,
            scratch,
            self.threads,
        );
    }
}
