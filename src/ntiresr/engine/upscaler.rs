//! One frame's planes in (I420 or NV12), its x4 planes out: the network's residual (of the frame,
//! or averaged with that of its mirror image) and the composition.

use super::mirror;
use super::network::{Backend, Network, Precision};
use super::planes::{self, Plane, PlaneMut};
use super::stream::Stream;
use super::workers::{Workers, resolve_threads};
use crate::onnx::ModelError;

/// Runs a [`Network`] on frames of one size, keeping the stream's temporal state.
pub struct Upscaler {
    direct: Stream,
    /// The mirror ensemble, when asked for.
    mirror: Option<Mirror>,
    width: usize,
    scratch: Vec<f32>,
    /// The threads everything runs on: the bands, the mirror stream, the composition.
    workers: Option<Workers>,
    /// The last step failed: the composition adds nothing (the plain bicubic upscale).
    failed: bool,
    /// The zero residual of a failed step, allocated on the first failure.
    zeros: Vec<f32>,
}

/// The second stream of the mirror ensemble: the mirrored frames, their own network stream and
/// the averaged residual. With two threads or more, each stream has half of them and the mirrored
/// one runs on one of the upscaler's threads beside the direct one.
struct Mirror {
    stream: Stream,
    planes: [Vec<u8>; 3],
    averaged: Vec<f32>,
}

impl Upscaler {
    /// Plans `network` for `width x height` input frames on `backend` (the own kernels in
    /// `precision`) and `threads`; with `mirror_ensemble`, also for their mirror images (twice
    /// the network time).
    pub fn new(
        network: &Network,
        width: usize,
        height: usize,
        backend: Backend,
        precision: Precision,
        threads: usize,
        mirror_ensemble: bool,
    ) -> Result<Self, ModelError> {
        let grid = planes::grid(width, height);
        let threads = resolve_threads(threads);
        // Two streams side by side share the threads; a single stream (or one thread) has all.
        let (own, other) = match (mirror_ensemble, threads) {
            (true, 2..) => (threads / 2, threads - threads / 2),
            _ => (threads, threads),
        };
        let workers = Workers::new(threads)?;
        let direct = Stream::new(network, grid, backend, precision, own, workers.as_ref())?;
        let mirror = if mirror_ensemble {
            Some(Mirror {
                stream: Stream::new(network, grid, backend, precision, other, workers.as_ref())?,
                planes: Default::default(),
                averaged: vec![0.0; direct.residual_len()],
            })
        } else {
            None
        };
        Ok(Upscaler {
            direct,
            mirror,
            width,
            scratch: Vec::new(),
            workers,
            failed: false,
            zeros: Vec::new(),
        })
    }

    /// Bands of rows the network runs on at once (1: the whole frame).
    pub fn band_count(&self) -> usize {
        self.direct.band_count()
    }

    /// Which kernels run the network, in words (for the log).
    pub fn kernels(&self) -> String {
        self.direct.kernels()
    }

    /// Why the network runs on the whole frame at once rather than in bands, when it does.
    pub fn whole_frame_because(&self) -> Option<&str> {
        self.direct.whole_frame_because()
    }

    /// The threads it runs on (`None`: only the calling thread).
    pub fn workers(&self) -> Option<&Workers> {
        self.workers.as_ref()
    }

    /// Whether each frame also runs mirrored (the mirror ensemble).
    pub fn mirrored(&self) -> bool {
        self.mirror.is_some()
    }

    /// Drops the temporal state: the next frame is processed as the first of a stream.
    pub fn reset(&mut self) {
        self.direct.reset();
        if let Some(mirror) = &mut self.mirror {
            mirror.stream.reset();
        }
    }

    /// Runs the network on `input` (Y, U, V); then [`Self::compose`] writes each output plane.
    /// When it fails (a non-finite output, say), the temporal state is reset and the composition
    /// gives the plain bicubic upscale of this frame.
    pub fn step(&mut self, input: [Plane; 3]) -> Result<(), ModelError> {
        let result = self.step_streams(input);
        self.failed = result.is_err();
        if self.failed {
            self.reset();
            if self.zeros.is_empty() {
                self.zeros = vec![0.0; self.direct.residual_len()];
            }
        }
        result
    }

    fn step_streams(&mut self, input: [Plane; 3]) -> Result<(), ModelError> {
        let Some(mirror) = &mut self.mirror else {
            return self.direct.step(input);
        };
        let Mirror {
            stream,
            planes: [y, u, v],
            ..
        } = mirror;
        let mut step_mirrored = || {
            let flipped = [
                mirror::mirror_plane(input[0], y),
                mirror::mirror_plane(input[1], u),
                mirror::mirror_plane(input[2], v),
            ];
            stream.step(flipped)
        };
        let direct = &mut self.direct;
        let (direct_result, mirrored_result) = match &self.workers {
            Some(workers) => {
                let mut mirrored_result = Ok(());
                let direct_result = workers.pool().in_place_scope(|scope| {
                    scope.spawn(|_| mirrored_result = step_mirrored());
                    direct.step(input)
                });
                (direct_result, mirrored_result)
            }
            None => (direct.step(input), step_mirrored()),
        };
        // On failure one stream may be a frame ahead of the other: step() resets both.
        direct_result.and(mirrored_result)?;
        mirror::average_with_mirrored(
            self.direct.residual(),
            mirror.stream.residual(),
            &mut mirror.averaged,
            self.direct.grid(),
            self.width,
        );
        Ok(())
    }

    /// The residual of the last successful [`Self::step`] (`OUT_CHANNELS x h x w`) that
    /// [`Self::compose`] adds: the direct one, or the ensemble's average.
    pub fn residual(&self) -> &[f32] {
        composed_residual(&self.direct, &self.mirror)
    }

    /// Writes output plane `index` (0: Y, 1: U, 2: V): the bicubic x4 of `src` plus the residual
    /// of the last [`Self::step`] (none when it failed).
    pub fn compose(&mut self, index: usize, src: Plane, dst: &mut PlaneMut) {
        let (first_channel, block) = planes::RESIDUAL_LAYOUT[index];
        let residual = if self.failed {
            &self.zeros
        } else {
            composed_residual(&self.direct, &self.mirror)
        };
        planes::upscale_add(
            src,
            dst,
            residual,
            self.direct.grid(),
            first_channel,
            block,
            &mut self.scratch,
            self.workers.as_ref().map(Workers::pool),
        );
    }
}

/// The residual the composition adds: the direct stream's, or the ensemble's average.
fn composed_residual<'a>(direct: &'a Stream, mirror: &'a Option<Mirror>) -> &'a [f32] {
    match mirror {
        Some(mirror) => &mirror.averaged,
        None => direct.residual(),
    }
}
