//! One I420 frame in, one x4 I420 frame out: packing, the network step and the composition.
//!
//! On the CPU with several threads, the frame is cut into bands of rows (see [`crate::bands`]),
//! each run by its own single-threaded network session on its own core: tract's multithreaded
//! executor shares one convolution between cores far less well than two independent ones.

use crate::bands::{self, Band};
use crate::network::{Backend, ModelError, Network, Session, resolve_threads};
use crate::planes::{self, IN_CHANNELS, OUT_CHANNELS, Plane, PlaneMut};

/// Runs a [`Network`] on frames of one size, keeping the stream's temporal state.
pub struct Upscaler {
    /// One session per band of rows; a single band covers the whole frame.
    bands: Vec<(Band, Session)>,
    grid: (usize, usize),
    /// The whole packed frame and the whole residual, used when there are several bands.
    packed: Vec<f32>,
    residual: Vec<f32>,
    scratch: Vec<f32>,
    /// Threads that run every band but the first (kept, so their tract scratch space stays warm).
    helpers: Option<rayon::ThreadPool>,
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
        let grid = planes::grid(width, height);
        let threads = resolve_threads(threads);
        let split = match (backend, network.reach()) {
            // One more row than measured, in case the measurement's last row moved too little.
            (Backend::Cpu, Some(reach)) if threads > 1 => bands::split(grid.1, threads, reach + 1),
            _ => Vec::new(),
        };
        let banded = (split.len() > 1)
            .then(|| {
                split
                    .into_iter()
                    .map(|band| {
                        let session = network.session((grid.0, band.rows()), backend, 1)?;
                        Ok::<_, ModelError>((band, session))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .and_then(Result::ok);
        let bands = match banded {
            Some(bands) => bands,
            None => {
                let whole = Band {
                    input: 0..grid.1,
                    own: 0..grid.1,
                };
                vec![(whole, network.session(grid, backend, threads)?)]
            }
        };
        let cells = grid.0 * grid.1;
        let (packed, residual) = match bands.len() {
            1 => (Vec::new(), Vec::new()),
            _ => (
                vec![0.0; IN_CHANNELS * cells],
                vec![0.0; OUT_CHANNELS * cells],
            ),
        };
        let helpers = match bands.len() {
            1 => None,
            n => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n - 1)
                    .thread_name(|i| format!("ntiresr-band-{}", i + 1))
                    .build()
                    .map_err(|e| ModelError(format!("cannot start the band threads: {e}")))?,
            ),
        };
        Ok(Upscaler {
            helpers,
            bands,
            grid,
            packed,
            residual,
            scratch: Vec::new(),
            threads,
        })
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

    /// Runs the network on `input` (Y, U, V); then [`Self::compose`] writes each output plane.
    pub fn step(&mut self, input: [Plane; 3]) -> Result<(), ModelError> {
        let [y, u, v] = input;
        assert_eq!(
            self.grid,
            planes::grid(y.width, y.height),
            "frame size differs from the planned size"
        );
        if let [(_, session)] = &mut self.bands[..] {
            session.pack_with(|buf| planes::pack(y, u, v, buf));
            return session.step();
        }
        planes::pack(y, u, v, &mut self.packed);
        let (width, height) = self.grid;
        let whole = 0..height;
        let packed = &self.packed;
        let run = |(band, session): &mut (Band, Session)| {
            session.pack_with(|buf| {
                bands::copy_rows(packed, &whole, buf, &band.input, band.input.clone(), width)
            });
            session.step()
        };
        let mut results: Vec<Result<(), ModelError>> = vec![Ok(()); self.bands.len()];
        let helpers = self.helpers.as_ref().expect("band threads");
        helpers.in_place_scope(|scope| {
            let mut jobs = self.bands.iter_mut().zip(results.iter_mut());
            let (first, first_result) = jobs.next().expect("bands");
            for (band, result) in jobs {
                scope.spawn(|_| *result = run(band));
            }
            *first_result = run(first);
        });
        if let Err(e) = results.into_iter().collect::<Result<(), _>>() {
            // Bands that did step are a frame ahead of those that did not: start again.
            self.reset();
            return Err(e);
        }
        for (band, session) in &self.bands {
            let residual = session.residual().expect("a successful step");
            let own = band.own.clone();
            bands::copy_rows(
                residual,
                &band.input,
                &mut self.residual,
                &whole,
                own,
                width,
            );
        }
        self.share_halo_states();
        Ok(())
    }

    /// Overwrites each band's state in its halo rows with the state of the band that owns them,
    /// so that the next step reads the same state as a run on the whole frame would.
    fn share_halo_states(&mut self) {
        let width = self.grid.0;
        for k in 0..self.bands.len() {
            for j in [k.wrapping_sub(1), k + 1] {
                let Some((owner, source)) = self.bands.get(j) else {
                    continue;
                };
                let (band, _) = &self.bands[k];
                let rows = band.input.start.max(owner.own.start)..band.input.end.min(owner.own.end);
                if rows.is_empty() {
                    continue;
                }
                let state = source.recurrent_state();
                let channels = state.len() / (owner.rows() * width);
                let mut shared = vec![0.0; channels * rows.len() * width];
                bands::copy_rows(state, &owner.input, &mut shared, &rows, rows.clone(), width);
                let (band, session) = &mut self.bands[k];
                session.state_mut_with(|dst| {
                    bands::copy_rows(&shared, &rows, dst, &band.input, rows.clone(), width)
                });
            }
        }
    }

    /// The whole residual of the last successful [`Self::step`] (`OUT_CHANNELS x h x w`).
    pub fn residual(&self) -> &[f32] {
        match &self.bands[..] {
            [(_, session)] => session.residual().expect("a successful step"),
            _ => &self.residual,
        }
    }

    /// Writes output plane `index` (0: Y, 1: U, 2: V): the bicubic x4 of `src` plus the residual
    /// of the last [`Self::step`].
    pub fn compose(&mut self, index: usize, src: Plane, dst: &mut PlaneMut) {
        let (first_channel, block) = [(0, 8), (64, 4), (80, 4)][index];
        let residual = match &self.bands[..] {
            [(_, session)] => session.residual().expect("compose after a successful step"),
            _ => &self.residual,
        };
        planes::upscale_add(
            src,
            dst,
            residual,
            self.grid,
            first_channel,
            block,
            &mut self.scratch,
            self.threads,
        );
    }
}
