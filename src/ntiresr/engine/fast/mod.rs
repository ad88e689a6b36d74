//! Own SIMD fast path for ntiresr's networks (issue 20): plans the ONNX graph for one chroma grid
//! into fused, register-blocked convolutions over NHWC rows, pipelined row by row through small
//! ring buffers that stay in L1/L2 (`schedule.rs`), and runs it single-threaded with AVX-512F,
//! AVX2+FMA or portable kernels. No GStreamer types; the caller keeps tract for
//! loading, the contract checks and any model the planner refuses.
//!
//! ```ignore
//! let mut net = FastNet::plan(&onnx_bytes, (w, h), Isa::detect())?;   // Err: fall back to tract
//! net.run(&frame, &prev, &state, &mut residual, &mut state_out);      // no allocation
//! ```
//!
//! What the planner covers is listed in `graph.rs`; outputs equal tract's within 1e-5 (tests).

#[cfg(target_arch = "x86_64")]
mod bf16_rows;
mod dispatch;
mod exec;
mod finite;
mod graph;
mod isa;
mod kernel;
#[cfg(target_arch = "x86_64")]
mod kernel_bf16;
mod lanes;
mod layer;
mod peak;
mod plan;
mod proto;
mod ring;
mod rows_out;
mod schedule;
#[cfg(test)]
mod tests;
mod transpose;
mod view;

pub use finite::all_finite;
pub use isa::Isa;
pub use peak::peak_gflops;
pub use rows_out::RowsOut;

use plan::Program;
use schedule::Schedule;
use std::time::Instant;
use tract_onnx::prelude::Framework;

/// Rows of the tallest layer computed per sweep of the row pipeline (see `schedule.rs`).
pub const DEFAULT_ROWS_PER_SWEEP: usize = 2;

/// The fast path planned for one grid: owns its weights and every scratch buffer.
pub struct FastNet {
    prog: Program,
    sched: Schedule,
    isa: Isa,
    grid: (usize, usize),
    /// Storage of each buffer's ring of rows, and a row of zeros.
    _store: Vec<Vec<f32>>,
    _zero: Vec<f32>,
    /// Each buffer's ring, pointing into `_store`.
    rings: Vec<ring::Ring>,
    /// Per step, on the bf16 path, a conv's input rows rounded to bf16 (where no twin holds
    /// them).
    bf16: Vec<Option<exec::Bf16Rows>>,
    /// Per buffer, on the bf16 path, its bf16 twin (pointing into `_twin_store`) where a conv
    /// writes it and another reads it whole.
    twins: Vec<Option<ring::Bf16Ring>>,
    _twin_store: Vec<Vec<u32>>,
    /// Seconds spent in each step, summed over runs, when profiling.
    profile: Option<Vec<f64>>,
}

// SAFETY: `rings` point into `_store` and `_zero`, and `twins` into `_twin_store`, heap storage
// FastNet owns and never resizes or moves; nothing else aliases it, and `run` takes `&mut self`.
unsafe impl Send for FastNet {}

impl FastNet {
    /// Plans the ONNX model for a `(w, h)` chroma grid, or says why the fast path cannot run it
    /// (an op, attribute or shape it does not cover: the caller then uses tract), or that `isa`
    /// is not available on this CPU.
    pub fn plan(onnx_bytes: &[u8], grid: (usize, usize), isa: Isa) -> Result<FastNet, String> {
        FastNet::plan_with(onnx_bytes, grid, isa, DEFAULT_ROWS_PER_SWEEP)
    }

    /// [`FastNet::plan`] with the row pipeline's sweep height (0: whole planes, layer after
    /// layer).
    pub fn plan_with(
        onnx_bytes: &[u8],
        grid: (usize, usize),
        isa: Isa,
        rows_per_sweep: usize,
    ) -> Result<FastNet, String> {
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &onnx_bytes[..])
            .map_err(|e| format!("not an ONNX model: {e}"))?;
        FastNet::plan_proto(&proto, grid, isa, rows_per_sweep)
    }

    /// [`FastNet::plan_with`] for an already parsed model.
    pub fn plan_proto(
        model: &tract_onnx::pb::ModelProto,
        grid: (usize, usize),
        isa: Isa,
        rows_per_sweep: usize,
    ) -> Result<FastNet, String> {
        if !isa.available() {
            return Err(format!("this CPU does not run the {} path", isa.name()));
        }
        let mut prog = graph::build(model, grid)?;
        #[cfg(target_arch = "x86_64")]
        if isa == Isa::Avx512Bf16 {
            for step in &mut prog.steps {
                if let plan::Step::Conv { layer, .. } = step {
                    layer.wb = kernel_bf16::pack_weights(layer);
                }
            }
        }
        let sched = schedule::schedule(&prog, rows_per_sweep)?;
        let widest = prog.bufs.iter().map(|g| g.row()).max().unwrap_or(0);
        let mut zero = vec![0f32; widest + 16];
        let zp = zero.as_mut_ptr();
        let mut store = Vec::with_capacity(prog.bufs.len());
        let mut rings = Vec::with_capacity(prog.bufs.len());
        for (g, &depth) in prog.bufs.iter().zip(&sched.depth) {
            // Rows of 16-channel pixels start 64-byte aligned when `row` is a multiple of 16.
            let mut v = vec![0f32; depth * g.row() + 16];
            let p = v.as_mut_ptr();
            let align = (16 - (p as usize / 4) % 16) % 16;
            // SAFETY: `align` < 16 leaves `depth * row` floats.
            let base = unsafe { p.add(align) };
            rings.push(ring::Ring {
                base,
                row: g.row(),
                cs: g.cs,
                depth,
                h: g.h,
                zero: zp,
            });
            store.push(v);
        }
        let (twins, twin_store) = bf16_twins(&prog, &sched, isa);
        let bf16 = prog
            .steps
            .iter()
            .map(|step| match step {
                #[cfg(target_arch = "x86_64")]
                plan::Step::Conv { src, layer, .. }
                    if isa == Isa::Avx512Bf16
                        && (twins[*src].is_none() || layer.cin != prog.bufs[*src].cs) =>
                {
                    Some(bf16_rows::Bf16Rows::new(layer, sched.depth[*src]))
                }
                _ => None,
            })
            .collect();
        Ok(FastNet {
            prog,
            sched,
            isa,
            grid,
            _store: store,
            _zero: zero,
            rings,
            bf16,
            twins,
            _twin_store: twin_store,
            profile: None,
        })
    }

    /// One step of the network, single-threaded. Inputs and outputs are NCHW f32 with the
    /// shapes of [`FastNet::input_shapes`] / [`FastNet::output_shapes`]; any other length is an
    /// error naming the tensor, and nothing runs. Whether every value of each output is finite.
    pub fn run(
        &mut self,
        frame: &[f32],
        prev: &[f32],
        state: &[f32],
        residual: &mut [f32],
        state_out: &mut [f32],
    ) -> Result<[bool; 2], String> {
        let [c, h, w] = self.prog.outputs[0];
        if residual.len() != c * h * w {
            return Err(format!(
                "output {}: {} values, {c} channels of {h} rows of {w} expected",
                graph::OUTPUTS[0],
                residual.len()
            ));
        }
        let residual = RowsOut::whole(residual, c, h, w);
        self.run_into(frame, prev, state, &residual, state_out)
    }

    /// [`FastNet::run`] writing only the rows of the residual that `residual` lends (a band's
    /// own rows, into the frame's residual).
    pub fn run_into(
        &mut self,
        frame: &[f32],
        prev: &[f32],
        state: &[f32],
        residual: &RowsOut,
        state_out: &mut [f32],
    ) -> Result<[bool; 2], String> {
        let inputs = [frame, prev, state];
        for (i, (x, d)) in inputs.iter().zip(&self.prog.inputs).enumerate() {
            let want = d.iter().product::<usize>();
            if x.len() != want {
                return Err(format!(
                    "input {}: {} values, {want} ({d:?}) expected",
                    graph::INPUTS[i],
                    x.len()
                ));
            }
        }
        let [rc, rh, rw] = self.prog.outputs[0];
        if residual.channels_and_width() != (rc, rw) || residual.run_rows().end > rh {
            return Err(format!(
                "output {}: {rc} channels of {rh} rows of {rw} expected",
                graph::OUTPUTS[0],
            ));
        }
        let [sc, sh, sw] = self.prog.outputs[1];
        if state_out.len() != sc * sh * sw {
            return Err(format!(
                "output {}: {} values, {sc} channels of {sh} rows of {sw} expected",
                graph::OUTPUTS[1],
                state_out.len()
            ));
        }
        let state_out = RowsOut::whole(state_out, sc, sh, sw);
        let outs: [&RowsOut; 2] = [residual, &state_out];
        let mem = exec::Mem {
            inputs,
            input_dims: &self.prog.inputs,
            rings: &self.rings,
            twins: &self.twins,
        };
        let mut finite = [true; 2];
        #[cfg(target_arch = "x86_64")]
        self.bf16
            .iter_mut()
            .flatten()
            .for_each(bf16_rows::Bf16Rows::reset);
        for &(s, r0, r1) in &self.sched.actions {
            let t0 = self.profile.as_ref().map(|_| Instant::now());
            let step = &self.prog.steps[s];
            // SAFETY: the program was planned and checked for exactly these shapes, and the
            // schedule keeps every row a step reads in its ring.
            let bf16 = self.bf16[s].as_mut();
            unsafe {
                exec::run_rows(
                    self.isa,
                    &self.prog,
                    step,
                    &mem,
                    &outs,
                    r0..r1,
                    &mut finite,
                    bf16,
                )
            };
            if let (Some(p), Some(t0)) = (self.profile.as_mut(), t0) {
                p[s] += t0.elapsed().as_secs_f64();
            }
        }
        Ok(finite)
    }

    /// The same net with no bf16 twins: every bf16 conv rounds its input rows itself (for the
    /// test that the twins change no output).
    #[cfg(all(test, target_arch = "x86_64"))]
    fn without_twins(mut self) -> FastNet {
        for (b, step) in self.bf16.iter_mut().zip(&self.prog.steps) {
            if let plan::Step::Conv { src, layer, .. } = step {
                *b = Some(bf16_rows::Bf16Rows::new(layer, self.sched.depth[*src]));
            }
        }
        self.twins.iter_mut().for_each(|t| *t = None);
        self
    }

    /// The kernel family in use.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The `(w, h)` chroma grid planned for.
    pub fn grid(&self) -> (usize, usize) {
        self.grid
    }

    /// `[C, h, w]` of `frame`, `prev_frame`, `state`.
    pub fn input_shapes(&self) -> [[usize; 3]; 3] {
        [
            self.prog.inputs[0],
            self.prog.inputs[1],
            self.prog.inputs[2],
        ]
    }

    /// `[C, h, w]` of `residual`, `state_out`.
    pub fn output_shapes(&self) -> [[usize; 3]; 2] {
        [self.prog.outputs[0], self.prog.outputs[1]]
    }

    /// Floating-point operations of one run (multiply-add = 2, convs only).
    pub fn flop(&self) -> f64 {
        self.prog.flop()
    }

    /// Bytes of scratch memory held.
    pub fn scratch_bytes(&self) -> usize {
        self._store.iter().map(|s| s.len() * 4).sum()
    }

    /// The plan in words: each step, and each buffer's shape and ring depth.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "isa {}, grid {:?}, {} actions\n",
            self.isa.name(),
            self.grid,
            self.sched.actions.len()
        );
        for st in &self.prog.steps {
            s += &format!("  step {}\n", st.label());
        }
        for (i, (g, d)) in self.prog.bufs.iter().zip(&self.sched.depth).enumerate() {
            s += &format!(
                "  buf {i}: {}x{} x {} ch, ring of {d} rows\n",
                g.w, g.h, g.cs
            );
        }
        s
    }

    /// Starts (or stops, with `false`) summing the time of each step over runs.
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(|| vec![0.0; self.prog.steps.len()]);
    }

    /// Each step's label, seconds summed over the profiled runs, and FLOP per run.
    pub fn profile(&self) -> Vec<(String, f64, f64)> {
        self.prog
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let flop = match s {
                    plan::Step::Conv { layer, .. } => layer.flop(),
                    _ => 0.0,
                };
                (s.label(), self.profile.as_ref().map_or(0.0, |p| p[i]), flop)
            })
            .collect()
    }
}

/// The bf16 twins of the buffers a bf16 conv writes and another conv reads whole (all its
/// channels: `cin == cs`), with their storage; none off the bf16 path.
fn bf16_twins(
    prog: &Program,
    sched: &Schedule,
    isa: Isa,
) -> (Vec<Option<ring::Bf16Ring>>, Vec<Vec<u32>>) {
    let mut twins = vec![None; prog.bufs.len()];
    let mut store = Vec::new();
    if isa != Isa::Avx512Bf16 {
        return (twins, store);
    }
    let conv_writes = |b: usize| {
        prog.steps
            .iter()
            .any(|s| matches!(s, plan::Step::Conv { dst, .. } if *dst == b))
            && prog.steps.iter().filter(|s| s.writes() == Some(b)).count() == 1
    };
    let read_whole = |b: usize| {
        prog.steps.iter().any(
            |s| matches!(s, plan::Step::Conv { src, layer, .. } if *src == b && layer.cin == prog.bufs[b].cs),
        )
    };
    for (b, g) in prog.bufs.iter().enumerate() {
        if g.cs % 2 != 0 || !conv_writes(b) || !read_whole(b) {
            continue;
        }
        let pairs = g.cs / 2;
        let row = (g.w + 2 * plan::BORDER) * pairs;
        let depth = sched.depth[b];
        // Rows, then one row of zeros (the rows outside the tensor); the border columns are
        // never written, so they stay zero.
        let mut v = vec![0u32; (depth + 1) * row];
        let base = v.as_mut_ptr();
        twins[b] = Some(ring::Bf16Ring {
            base,
            row,
            cs: pairs,
            depth,
            h: g.h,
            // SAFETY: the last of depth + 1 rows.
            zero: unsafe { base.add(depth * row) },
        });
        store.push(v);
    }
    (twins, store)
}
