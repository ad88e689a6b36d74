//! One stream of frames through the network: packing and the network step, on the whole frame or
//! in bands of rows.
//!
//! On the CPU with several threads, the frame is cut into bands of rows (see [`super::bands`]),
//! each run by its own single-threaded network session on its own core: tract's multithreaded
//! executor shares one convolution between cores far less well than two independent ones.

use super::bands::{self, Band};
use super::fast::RowsOut;
use super::network::{Backend, Network, Precision};
use super::planes::{self, OUT_CHANNELS, Plane};
use super::session::Session;
use super::workers::Workers;
use crate::onnx::ModelError;

/// Runs a [`Network`] on frames of one size, keeping one stream's temporal state.
pub struct Stream {
    /// One session per band of rows; a single band covers the whole frame.
    bands: Vec<(Band, Session)>,
    /// Each band's own rows, in order.
    owns: Vec<std::ops::Range<usize>>,
    /// The frame's residual, each band writing its own rows.
    residual: Vec<f32>,
    /// The upscaler's threads, which run every band but the first; `None` with a single band.
    workers: Option<Workers>,
    grid: (usize, usize),
    /// Why the network runs on the whole frame at once, when it does.
    whole_frame_because: Option<String>,
}

impl Stream {
    /// Plans `network` for a `grid` (chroma-grid size) on `threads` (already resolved: not 0)
    /// of the upscaler's `workers`.
    pub fn new(
        network: &Network,
        grid: (usize, usize),
        backend: Backend,
        precision: Precision,
        threads: usize,
        workers: Option<&Workers>,
    ) -> Result<Self, ModelError> {
        let (bands, whole_frame_because) =
            match Self::plan_bands(network, grid, backend, precision, threads, workers) {
                Ok(bands) => (bands, None),
                Err(why) => {
                    let whole = Band {
                        input: 0..grid.1,
                        own: 0..grid.1,
                    };
                    let shared = workers.filter(|_| threads > 1);
                    let session = Session::new(network, grid, backend, precision, shared)?;
                    (vec![(whole, session)], Some(why))
                }
            };
        let workers = workers.filter(|_| bands.len() > 1).cloned();
        Ok(Stream {
            owns: bands.iter().map(|(band, _)| band.own.clone()).collect(),
            residual: vec![0.0; OUT_CHANNELS * grid.0 * grid.1],
            bands,
            workers,
            grid,
            whole_frame_because,
        })
    }

    /// The chroma grid `(w, h)` this stream was planned for.
    pub fn grid(&self) -> (usize, usize) {
        self.grid
    }

    /// Length of [`Self::residual`].
    pub fn residual_len(&self) -> usize {
        OUT_CHANNELS * self.grid.0 * self.grid.1
    }

    /// One single-threaded session per band of rows, or why the frame runs whole.
    fn plan_bands(
        network: &Network,
        grid: (usize, usize),
        backend: Backend,
        precision: Precision,
        threads: usize,
        workers: Option<&Workers>,
    ) -> Result<Vec<(Band, Session)>, String> {
        if backend == Backend::Cuda || threads < 2 || workers.is_none() {
            return Err(format!("{threads} thread(s) on {backend:?}"));
        }
        let Some(locality) = network.locality() else {
            return Err("the model is not local (or not shift-invariant) along rows".into());
        };
        // The measured reach is exact: one halo row less gives a seam (tests/bands.rs).
        let split = bands::split(grid.1, threads, locality.reach, locality.period);
        if split.len() < 2 {
            return Err(format!("{} grid rows are too few for bands", grid.1));
        }
        split
            .into_iter()
            .map(|band| {
                let session =
                    Session::new(network, (grid.0, band.rows()), backend, precision, None)
                        .map_err(|e| format!("a band could not be planned: {e}"))?;
                Ok((band, session))
            })
            .collect()
    }

    /// Which kernels run the network, in words (for the log).
    pub fn kernels(&self) -> String {
        self.bands[0].1.kernels()
    }

    /// Why the network runs on the whole frame at once (`None`: it runs in bands of rows).
    pub fn whole_frame_because(&self) -> Option<&str> {
        self.whole_frame_because.as_deref()
    }

    /// Bands of rows the network runs on at once (1: the whole frame).
    pub fn band_count(&self) -> usize {
        self.bands.len()
    }

    /// Drops the temporal state: the next frame is processed as the first of a stream.
    pub fn reset(&mut self) {
        for (_, session) in &mut self.bands {
            session.reset();
        }
    }

    /// Runs the network on `input` (Y, U, V); [`Self::residual`] then holds its residual.
    pub fn step(&mut self, input: [Plane; 3]) -> Result<(), ModelError> {
        let [y, u, v] = input;
        assert_eq!(
            self.grid,
            planes::grid(y.width, y.height),
            "frame size differs from the planned size"
        );
        let (width, height) = self.grid;
        // Each band packs its own input rows and writes its own rows of the frame's residual.
        let targets = RowsOut::split(
            &mut self.residual,
            OUT_CHANNELS,
            height,
            width,
            self.owns.iter().cloned(),
        );
        let run = |(band, session): &mut (Band, Session), target: RowsOut| {
            session.pack_with(|buf| planes::pack_rows(y, u, v, band.input.clone(), buf));
            session.step_into(&mut target.with_offset(band.input.start))
        };
        let mut results: Vec<Result<(), ModelError>> = vec![Ok(()); self.bands.len()];
        {
            let mut jobs = self.bands.iter_mut().zip(targets).zip(results.iter_mut());
            let ((first, first_target), first_result) = jobs.next().expect("bands");
            match &self.workers {
                Some(workers) => workers.pool().in_place_scope(|scope| {
                    for ((band, target), result) in jobs {
                        scope.spawn(|_| *result = run(band, target));
                    }
                    *first_result = run(first, first_target);
                }),
                None => *first_result = run(first, first_target),
            }
        }
        if let Err(e) = results.into_iter().collect::<Result<(), _>>() {
            // Bands that did step are a frame ahead of those that did not: start again.
            self.reset();
            return Err(e);
        }
        self.share_halo_states().inspect_err(|_| self.reset())
    }

    /// Overwrites each band's state in its halo rows with the state of the band that owns them,
    /// so that the next step reads the same state as a run on the whole frame would.
    fn share_halo_states(&mut self) -> Result<(), ModelError> {
        let width = self.grid.0;
        for k in 0..self.bands.len() {
            for j in [k.wrapping_sub(1), k + 1] {
                if j >= self.bands.len() {
                    continue;
                }
                let ((band, session), (owner, source)) = band_and_neighbour(&mut self.bands, k, j);
                let rows = band.input.start.max(owner.own.start)..band.input.end.min(owner.own.end);
                if !rows.is_empty() {
                    let state = source.recurrent_state()?;
                    session.state_mut_with(|dst| {
                        bands::copy_rows(state, &owner.input, dst, &band.input, rows, width)
                    });
                }
            }
        }
        Ok(())
    }

    /// The whole residual of the last successful [`Self::step`] (`OUT_CHANNELS x h x w`).
    pub fn residual(&self) -> &[f32] {
        &self.residual
    }
}

/// Band `k` to write and band `j` (`j != k`) to read, borrowed at once.
fn band_and_neighbour<T>(bands: &mut [T], k: usize, j: usize) -> (&mut T, &T) {
    if k < j {
        let (low, high) = bands.split_at_mut(j);
        (&mut low[k], &high[0])
    } else {
        let (low, high) = bands.split_at_mut(k);
        (&mut high[0], &low[j])
    }
}
