//! Row pipelining: the order in which every step produces its rows, and how many rows of each
//! buffer must be kept (its ring depth).
//!
//! All steps advance together, sweep after sweep, each by its share of rows (a step with half
//! the rows moves half as fast), as far as the rows it reads are ready. A buffer keeps the rows
//! from the lowest one any unfinished reader still needs up to the newest one written; with a
//! few rows per sweep every layer's working set stays in L1/L2 instead of whole planes going
//! through memory. The schedule is simulated once at plan time and replayed by every run.

use super::plan::{Epi, Program, Step};
use super::view::{Base, ChanMap};

/// How a step's output rows depend on the rows of one buffer it reads.
#[derive(Clone, Copy, Debug)]
pub(super) enum Need {
    /// Output row r reads rows `r*s - pad .. r*s - pad + k` (a conv's input; an Add is 1x1).
    Window { s: usize, pad: usize, k: usize },
    /// Output row r reads rows `(r / p) * m + lo ..= (r / p) * m + hi` (a gather or scatter).
    Map {
        p: usize,
        m: usize,
        lo: usize,
        hi: usize,
    },
}

impl Need {
    /// Rows `0..need_hi(r)` of the source are enough for output rows `0..r` (r >= 1).
    fn hi(self, r: usize, h: usize) -> usize {
        let v = match self {
            Need::Window { s, pad, k } => ((r - 1) * s + k).saturating_sub(pad),
            Need::Map { p, m, hi, .. } => ((r - 1) / p) * m + hi + 1,
        };
        v.min(h)
    }

    /// The lowest source row output row `r` reads.
    fn lo(self, r: usize) -> usize {
        match self {
            Need::Window { s, pad, .. } => (r * s).saturating_sub(pad),
            Need::Map { p, m, lo, .. } => (r / p) * m + lo,
        }
    }
}

fn map_needs(maps: &[ChanMap]) -> Vec<(usize, Need)> {
    let mut v: Vec<(usize, Need)> = Vec::new();
    for m in maps {
        let Base::Buf(b) = m.base else { continue };
        let lo = m.phases.iter().map(|p| p.1).min().unwrap_or(0);
        let hi = m.phases.iter().map(|p| p.1).max().unwrap_or(0);
        match v.iter_mut().find(|(bb, n)| {
            *bb == b && matches!(n, Need::Map { p, m: mm, .. } if *p == m.p && *mm == m.m)
        }) {
            Some((_, Need::Map { lo: l, hi: h, .. })) => {
                *l = (*l).min(lo);
                *h = (*h).max(hi);
            }
            _ => v.push((
                b,
                Need::Map {
                    p: m.p,
                    m: m.m,
                    lo,
                    hi,
                },
            )),
        }
    }
    v
}

/// The buffers a step reads and how.
pub(super) fn needs(step: &Step) -> Vec<(usize, Need)> {
    match step {
        Step::Gather { maps, .. } | Step::Scatter { maps, .. } => map_needs(maps),
        Step::Conv {
            src, layer, epi, ..
        } => {
            let mut v = vec![(
                *src,
                Need::Window {
                    s: layer.sy,
                    pad: layer.pad_y,
                    k: layer.kh,
                },
            )];
            for e in epi {
                if let Epi::Add(b) = e {
                    v.push((*b, Need::Window { s: 1, pad: 0, k: 1 }));
                }
            }
            v
        }
    }
}

/// Rows a step produces.
pub(super) fn rows(prog: &Program, step: &Step) -> usize {
    match step {
        Step::Gather { dst, .. } | Step::Conv { dst, .. } => prog.bufs[*dst].h,
        Step::Scatter { out, .. } => prog.outputs[*out][1],
    }
}

/// The replayed order (step, first row, end row) and the ring depth of each buffer.
#[derive(Clone, Debug, Default)]
pub(super) struct Schedule {
    pub actions: Vec<(usize, usize, usize)>,
    pub depth: Vec<usize>,
}

/// Plans the sweeps: `rows_per_sweep` rows of the tallest step per sweep (0: whole planes, one
/// step after the other).
pub(super) fn schedule(prog: &Program, rows_per_sweep: usize) -> Result<Schedule, String> {
    let n = prog.steps.len();
    let total: Vec<usize> = prog.steps.iter().map(|s| rows(prog, s)).collect();
    let needs: Vec<Vec<(usize, Need)>> = prog.steps.iter().map(needs).collect();
    let mut producer = vec![usize::MAX; prog.bufs.len()];
    for (i, s) in prog.steps.iter().enumerate() {
        if let Some(b) = s.writes() {
            producer[b] = i;
        }
    }
    let tallest = total.iter().copied().max().unwrap_or(1);
    let sweeps = if rows_per_sweep == 0 {
        1
    } else {
        tallest.div_ceil(rows_per_sweep)
    };
    let mut done = vec![0usize; n];
    let mut depth = vec![1usize; prog.bufs.len()];
    let mut actions = Vec::new();
    let mut k = 0;
    while done != total {
        k += 1;
        let mut progressed = false;
        for s in 0..n {
            let goal = if k >= sweeps {
                total[s]
            } else {
                (k * total[s]).div_ceil(sweeps)
            };
            let mut t = done[s];
            while t < goal
                && needs[s].iter().all(|&(b, need)| {
                    let p = producer[b];
                    done[p] == total[p] || need.hi(t + 1, prog.bufs[b].h) <= done[p]
                })
            {
                t += 1;
            }
            if t == done[s] {
                continue;
            }
            actions.push((s, done[s], t));
            done[s] = t;
            progressed = true;
            if let Some(b) = prog.steps[s].writes() {
                let mut lo = t;
                for c in (0..n).filter(|&c| done[c] < total[c]) {
                    for &(bb, need) in &needs[c] {
                        if bb == b {
                            lo = lo.min(need.lo(done[c]));
                        }
                    }
                }
                depth[b] = depth[b].max(t - lo);
            }
        }
        if !progressed && k > sweeps {
            return Err("the row schedule does not progress".into());
        }
    }
    for (d, g) in depth.iter_mut().zip(&prog.bufs) {
        *d = (*d).clamp(1, g.h);
    }
    Ok(Schedule { actions, depth })
}
