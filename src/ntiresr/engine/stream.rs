//! One stream of frames through the network: packing and the network step, on the whole frame or
//! in bands of rows.
//!
//! On the CPU with several threads, the frame is cut into bands of rows (see [`super::bands`]),
//! each run by its own single-threaded network session on its own core: tract's multithreaded
//! executor shares one convolution between cores far less well than two independent ones.

use super::bands::{self, Band};
use super::network::{Backend, Network};
use super::planes::{self, OUT_CHANNELS, Plane};
use super::session::Session;
use crate::onnx::ModelError;

/// Runs a [`Network`] on frames of one size, keeping one stream's temporal state.
pub struct Stream {
    /// One session per band of rows; a single band covers the whole frame.
    bands: Vec<(Band, Session)>,
    /// What running several bands needs; `None` with a single band.
    joined: Option<Joined>,
    grid: (usize, usize),
    /// Why the network runs on the whole frame at once, when it does.
    whole_frame_because: Option<String>,
}

/// The whole residual the bands' own rows are gathered into, and the threads that run every band
/// but the first (kept, so their scratch space stays warm).
struct Joined {
    residual: Vec<f32>,
    helpers: rayon::ThreadPool,
}

impl Stream {
    /// Plans `network` for a `grid` (chroma-grid size) on `threads` (already resolved: not 0).
    pub fn new(
        network: &Network,
        grid: (usize, usize),
        backend: Backend,
        threads: usize,
    ) -> Result<Self, ModelError> {
        let (bands, whole_frame_because) = match Self::plan_bands(network, grid, backend, threads) {
            Ok(bands) => (bands, None),
            Err(why) => {
                let whole = Band {
                    input: 0..grid.1,
                    own: 0..grid.1,
                };
                let session = Session::new(network, grid, backend, threads)?;
                (vec![(whole, session)], Some(why))
            }
        };
        let cells = grid.0 * grid.1;
        let joined = match bands.len() {
            1 => None,
            n => Some(Joined {
                residual: vec![0.0; OUT_CHANNELS * cells],
                helpers: rayon::ThreadPoolBuilder::new()
                    .num_threads(n - 1)
                    .thread_name(|i| format!("ntiresr-band-{}", i + 1))
                    .build()
                    .map_err(|e| ModelError::Run(format!("cannot start the band threads: {e}")))?,
            }),
        };
        Ok(Stream {
            bands,
            joined,
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
        threads: usize,
    ) -> Result<Vec<(Band, Session)>, String> {
        if backend == Backend::Cuda || threads < 2 {
            return Err(format!("{threads} thread(s) on {backend:?}"));
        }
        let Some(locality) = network.locality() else {
            return Err("the model is not local (or not shift-invariant) along rows".into());
        };
        // One more halo row than measured, in case the measurement's last row moved too little.
        let split = bands::split(grid.1, threads, locality.reach + 1, locality.period);
        if split.len() < 2 {
            return Err(format!("{} grid rows are too few for bands", grid.1));
        }
        split
            .into_iter()
            .map(|band| {
                let session = Session::new(network, (grid.0, band.rows()), backend, 1)
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
        let Some(joined) = &mut self.joined else {
            let session = &mut self.bands[0].1;
            session.pack_with(|buf| planes::pack(y, u, v, buf));
            return session.step();
        };
        let (width, height) = self.grid;
        let whole = 0..height;
        let run = |(band, session): &mut (Band, Session)| {
            session.pack_with(|buf| planes::pack_rows(y, u, v, band.input.clone(), buf));
            session.step()
        };
        let mut results: Vec<Result<(), ModelError>> = vec![Ok(()); self.bands.len()];
        joined.helpers.in_place_scope(|scope| {
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
        // Each band's own rows into the whole residual, channels split between the threads.
        let cells = width * height;
        let threads = joined.helpers.current_num_threads() + 1;
        let per_thread = OUT_CHANNELS.div_ceil(threads) * cells;
        let residuals: Vec<(&Band, &[f32])> = self
            .bands
            .iter()
            .map(|(band, session)| (band, session.residual().expect("a successful step")))
            .collect();
        let gather = |dst: &mut [f32], first: usize| {
            let channels = first..first + dst.len() / cells;
            for &(band, residual) in &residuals {
                let plane = band.input.len() * width;
                let src = &residual[channels.start * plane..channels.end * plane];
                bands::copy_rows(src, &band.input, dst, &whole, band.own.clone(), width);
            }
        };
        joined.helpers.in_place_scope(|scope| {
            let mut chunks = joined.residual.chunks_mut(per_thread).enumerate();
            let (_, first) = chunks.next().expect("a residual");
            for (k, chunk) in chunks {
                scope.spawn(move |_| gather(chunk, k * per_thread / cells));
            }
            gather(first, 0);
        });
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
        whole_residual(&self.bands, &self.joined)
    }
}

/// The whole residual of the last successful step: the single band's own, or the joined one.
fn whole_residual<'a>(bands: &'a [(Band, Session)], joined: &'a Option<Joined>) -> &'a [f32] {
    match joined {
        Some(joined) => &joined.residual,
        None => bands[0].1.residual().expect("a successful step"),
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
