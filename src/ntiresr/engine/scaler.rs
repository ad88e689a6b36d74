//! Frames of one input size to any output size from 1x to 4x it: the x4 network alone (exactly
//! x4), the network then a resample to the size asked for, or a resample alone where the network
//! would cost more than allowed.

use super::network::{Backend, Network, Precision};
use super::planes::{Plane, PlaneMut};
use super::resample::{Filter, Resampler};
use super::upscaler::Upscaler;
use super::workers::{Workers, resolve_threads};
use crate::onnx::ModelError;

/// The smallest factor (the smaller of width's and height's) the network runs at: below it, the
/// x4 network then shrunk loses to plain resampling on some clips at low QP (measured per factor
/// in `docs/factors.md`: x1 to x1.33 lose up to 0.24 dB PSNR-Y at QP 22; x1.5 and up gain on
/// every clip but one at x2, QP 22).
pub const MIN_NETWORK_FACTOR: f64 = 1.5;

/// How frames of one size become frames of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Exactly 4x each side: the network's output as it is.
    X4,
    /// The network's x4 output resampled (shrunk) to the size asked for.
    NetworkThenResample,
    /// The input resampled (Lanczos-3) to the size asked for, without the network: its input is
    /// larger than allowed, or the factor is below [`MIN_NETWORK_FACTOR`].
    ResampleOnly,
}

impl Route {
    /// The route from luma size `input` to `output` when the network may run on at most
    /// `max_network_pixels` input pixels (exactly x4 it always runs, as it always has).
    pub fn choose(input: (usize, usize), output: (usize, usize), max_network_pixels: u64) -> Self {
        let factor = (output.0 as f64 / input.0 as f64).min(output.1 as f64 / input.1 as f64);
        if output == (4 * input.0, 4 * input.1) {
            Route::X4
        } else if (input.0 as u64) * (input.1 as u64) <= max_network_pixels
            && factor >= MIN_NETWORK_FACTOR
        {
            Route::NetworkThenResample
        } else {
            Route::ResampleOnly
        }
    }
}

/// The plane sizes (Y, U, V) of an I420 or NV12 frame of luma size `size`.
fn plane_sizes((w, h): (usize, usize)) -> [(usize, usize); 3] {
    let chroma = (w.div_ceil(2), h.div_ceil(2));
    [(w, h), chroma, chroma]
}

/// What each route keeps.
enum Parts {
    X4(Upscaler),
    NetworkThenResample {
        upscaler: Upscaler,
        shrink: Box<Shrink>,
    },
    ResampleOnly {
        resamplers: Box<[Resampler; 3]>,
        workers: Option<Workers>,
    },
}

/// The network's x4 planes and their sizes, kept to be resampled to the output.
struct Shrink {
    planes: [Vec<u8>; 3],
    sizes: [(usize, usize); 3],
    resamplers: [Resampler; 3],
}

/// Scales frames of one input size to one output size (both luma sizes), keeping the stream's
/// temporal state when the network runs.
pub struct Scaler {
    route: Route,
    parts: Parts,
}

/// Everything [`Scaler::new`] needs beside the network and the sizes.
#[derive(Debug, Clone, Copy)]
pub struct ScalerOptions {
    pub backend: Backend,
    pub precision: Precision,
    pub threads: usize,
    pub mirror_ensemble: bool,
    pub max_network_pixels: u64,
}

impl Scaler {
    /// Plans frames of `input` to `output` (luma sizes; `output` from `input` to 4x it on each
    /// side).
    pub fn new(
        network: &Network,
        input: (usize, usize),
        output: (usize, usize),
        options: ScalerOptions,
    ) -> Result<Self, ModelError> {
        let route = Route::choose(input, output, options.max_network_pixels);
        let upscaler = || {
            Upscaler::new(
                network,
                input.0,
                input.1,
                options.backend,
                options.precision,
                options.threads,
                options.mirror_ensemble,
            )
        };
        let to = plane_sizes(output);
        let resamplers = |from: [(usize, usize); 3], filter| -> [Resampler; 3] {
            std::array::from_fn(|c| Resampler::new(from[c], to[c], filter))
        };
        let parts = match route {
            Route::X4 => Parts::X4(upscaler()?),
            Route::NetworkThenResample => {
                let sizes = plane_sizes((4 * input.0, 4 * input.1));
                Parts::NetworkThenResample {
                    upscaler: upscaler()?,
                    shrink: Box::new(Shrink {
                        planes: sizes.map(|(w, h)| vec![0; w * h]),
                        sizes,
                        resamplers: resamplers(sizes, Filter::Area),
                    }),
                }
            }
            Route::ResampleOnly => Parts::ResampleOnly {
                resamplers: Box::new(resamplers(plane_sizes(input), Filter::Lanczos3)),
                workers: Workers::new(resolve_threads(options.threads))?,
            },
        };
        Ok(Scaler { route, parts })
    }

    /// How frames are scaled.
    pub fn route(&self) -> Route {
        self.route
    }

    /// The network's upscaler, when it runs.
    pub fn upscaler(&self) -> Option<&Upscaler> {
        match &self.parts {
            Parts::X4(upscaler) | Parts::NetworkThenResample { upscaler, .. } => Some(upscaler),
            Parts::ResampleOnly { .. } => None,
        }
    }

    /// Drops the temporal state: the next frame is processed as the first of a stream.
    pub fn reset(&mut self) {
        match &mut self.parts {
            Parts::X4(upscaler) | Parts::NetworkThenResample { upscaler, .. } => upscaler.reset(),
            Parts::ResampleOnly { .. } => {}
        }
    }

    /// Runs the network on `input` (Y, U, V), if it runs; then [`Self::compose`] writes each
    /// output plane. A failed step leaves the plain bicubic x4 to be composed (see
    /// [`Upscaler::step`]).
    pub fn step(&mut self, input: [Plane; 3]) -> Result<(), ModelError> {
        match &mut self.parts {
            Parts::X4(upscaler) | Parts::NetworkThenResample { upscaler, .. } => {
                upscaler.step(input)
            }
            Parts::ResampleOnly { .. } => Ok(()),
        }
    }

    /// Writes output plane `index` (0: Y, 1: U, 2: V) of the frame whose plane `index` is `src`.
    pub fn compose(&mut self, index: usize, src: Plane, dst: &mut PlaneMut) {
        match &mut self.parts {
            Parts::X4(upscaler) => upscaler.compose(index, src, dst),
            Parts::NetworkThenResample { upscaler, shrink } => {
                let Shrink {
                    planes,
                    sizes,
                    resamplers,
                } = &mut **shrink;
                let (width, height) = sizes[index];
                let mut up = PlaneMut::packed(&mut planes[index], width, height);
                upscaler.compose(index, src, &mut up);
                let up = Plane::packed(&planes[index], width, height);
                resamplers[index].run(up, dst, upscaler.workers().map(Workers::pool));
            }
            Parts::ResampleOnly {
                resamplers,
                workers,
            } => resamplers[index].run(src, dst, workers.as_ref().map(Workers::pool)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_factor_and_input_size() {
        let limit = 640 * 360;
        assert_eq!(Route::choose((480, 270), (1920, 1080), 0), Route::X4);
        assert_eq!(Route::choose((960, 540), (3840, 2160), limit), Route::X4);
        assert_eq!(
            Route::choose((640, 360), (1920, 1080), limit),
            Route::NetworkThenResample
        );
        assert_eq!(
            Route::choose((481, 271), (1920, 1080), limit),
            Route::NetworkThenResample
        );
        assert_eq!(
            Route::choose((960, 540), (1920, 1080), limit),
            Route::ResampleOnly
        );
        assert_eq!(
            Route::choose((960, 540), (1920, 1080), 960 * 540),
            Route::NetworkThenResample
        );
        // Below x1.5 on either side: resampled alone, whatever the limit.
        assert_eq!(
            Route::choose((400, 400), (480, 1600), u64::MAX),
            Route::ResampleOnly
        );
        assert_eq!(
            Route::choose((400, 400), (600, 600), u64::MAX),
            Route::NetworkThenResample
        );
        assert_eq!(
            Route::choose((64, 36), (64, 36), u64::MAX),
            Route::ResampleOnly
        );
    }
}
