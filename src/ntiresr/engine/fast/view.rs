//! Lazy tensors: the rearranging ops of the graph (Slice, Concat, Reshape, Transpose,
//! DepthToSpace, SpaceToDepth, element-wise ops with constants) are not run as passes; they are
//! composed into index arithmetic. At plan time every element of a tensor that a conv reads or
//! that the graph outputs is traced back to its source, and each channel is fitted to a
//! [`ChanMap`]: a source channel and offset per sub-pixel phase, checked on every element.

/// An element-wise op with constant parameters, applied on the way (gathers, scatters and conv
/// epilogues).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum PointOp {
    /// `v * m + a`
    Affine(f32, f32),
    Leaky(f32),
    Relu,
    Clip(f32, f32),
}

impl PointOp {
    #[inline]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            PointOp::Affine(m, a) => v * m + a,
            PointOp::Leaky(alpha) => {
                if v < 0.0 {
                    v * alpha
                } else {
                    v
                }
            }
            PointOp::Relu => {
                if v < 0.0 {
                    0.0
                } else {
                    v
                }
            }
            PointOp::Clip(lo, hi) => {
                if v < lo {
                    lo
                } else if v > hi {
                    hi
                } else {
                    v
                }
            }
        }
    }
}

/// Where data lives at run time: a graph input (NCHW) or an internal buffer (padded NHWC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Base {
    Input(usize),
    Buf(usize),
}

#[derive(Clone, Debug)]
pub(super) enum Kind {
    /// A 4-D [1, C, H, W] tensor that exists at run time.
    Base(Base),
    Slice {
        src: usize,
        axis: usize,
        start: usize,
        step: usize,
    },
    Concat {
        srcs: Vec<usize>,
        axis: usize,
    },
    Reshape {
        src: usize,
    },
    Transpose {
        src: usize,
        perm: Vec<usize>,
    },
    DepthToSpace {
        src: usize,
        b: usize,
        dcr: bool,
    },
    SpaceToDepth {
        src: usize,
        b: usize,
    },
    Point {
        src: usize,
        op: PointOp,
    },
}

#[derive(Clone, Debug)]
pub(super) struct Node {
    pub shape: Vec<usize>,
    pub kind: Kind,
}

pub(super) const MAX_RANK: usize = 8;
/// Planes up to this many elements are checked element by element when fitted.
pub(super) const EXHAUSTIVE: usize = 1 << 12;
const EDGE: usize = 2;
const SAMPLES: usize = 512;
type Idx = [usize; MAX_RANK];

/// The lazy tensors of one plan.
#[derive(Default)]
pub(super) struct Views {
    pub nodes: Vec<Node>,
}

/// How one channel of a [1, C, H, W] tensor is read from its source: the element at (Y, X) is
/// `ops(source[ch][(Y / p) * m + oy][(X / p) * m + ox])` with (ch, oy, ox) = `phases[(Y % p) * p
/// + X % p]`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ChanMap {
    pub base: Base,
    pub p: usize,
    pub m: usize,
    pub phases: Vec<(usize, usize, usize)>,
    /// Applied first to last.
    pub ops: Vec<PointOp>,
}

impl Views {
    pub fn push(&mut self, shape: Vec<usize>, kind: Kind) -> usize {
        self.nodes.push(Node { shape, kind });
        self.nodes.len() - 1
    }

    pub fn shape(&self, n: usize) -> &[usize] {
        &self.nodes[n].shape
    }

    /// The source of one element; `ops` receives the element-wise ops, outermost first.
    fn resolve(&self, mut n: usize, start: &Idx, ops: &mut Vec<PointOp>) -> (Base, [usize; 3]) {
        let mut idx = *start;
        loop {
            let node = &self.nodes[n];
            match &node.kind {
                Kind::Base(b) => return (*b, [idx[1], idx[2], idx[3]]),
                Kind::Slice {
                    src,
                    axis,
                    start,
                    step,
                } => {
                    idx[*axis] = start + idx[*axis] * step;
                    n = *src;
                }
                Kind::Concat { srcs, axis } => {
                    let mut i = idx[*axis];
                    for &s in srcs {
                        let d = self.nodes[s].shape[*axis];
                        if i < d {
                            n = s;
                            break;
                        }
                        i -= d;
                    }
                    idx[*axis] = i;
                }
                Kind::Reshape { src } => {
                    let mut flat = 0;
                    for (i, d) in node.shape.iter().enumerate() {
                        flat = flat * d + idx[i];
                    }
                    let ss = &self.nodes[*src].shape;
                    for i in (0..ss.len()).rev() {
                        idx[i] = flat % ss[i];
                        flat /= ss[i];
                    }
                    n = *src;
                }
                Kind::Transpose { src, perm } => {
                    let mut ni = [0; MAX_RANK];
                    for (i, &p) in perm.iter().enumerate() {
                        ni[p] = idx[i];
                    }
                    idx = ni;
                    n = *src;
                }
                Kind::DepthToSpace { src, b, dcr } => {
                    let c_out = node.shape[1];
                    let ph = (idx[2] % b) * b + idx[3] % b;
                    idx[1] = if *dcr {
                        ph * c_out + idx[1]
                    } else {
                        idx[1] * b * b + ph
                    };
                    idx[2] /= b;
                    idx[3] /= b;
                    n = *src;
                }
                Kind::SpaceToDepth { src, b } => {
                    let c_in = self.nodes[*src].shape[1];
                    let ph = idx[1] / c_in;
                    idx[1] %= c_in;
                    idx[2] = idx[2] * b + ph / b;
                    idx[3] = idx[3] * b + ph % b;
                    n = *src;
                }
                Kind::Point { src, op } => {
                    ops.push(*op);
                    n = *src;
                }
            }
        }
    }

    /// Fits every channel of the 4-D tensor `n` to a [`ChanMap`], checked on every element of
    /// planes up to [`EXHAUSTIVE`] elements (on edges, full rows and columns and samples above).
    pub fn fit(&self, n: usize, what: &str) -> Result<Vec<ChanMap>, String> {
        let shape = self.shape(n).to_vec();
        if shape.len() != 4 || shape[0] != 1 {
            return Err(format!("{what}: shape {shape:?} is not [1, C, H, W]"));
        }
        let (c_n, h, w) = (shape[1], shape[2], shape[3]);
        let mut ops = Vec::new();
        let at = |c: usize, y: usize, x: usize, ops: &mut Vec<PointOp>| {
            let mut idx = [0; MAX_RANK];
            (idx[1], idx[2], idx[3]) = (c, y, x);
            ops.clear();
            let r = self.resolve(n, &idx, ops);
            ops.reverse();
            r
        };
        let mut maps = Vec::with_capacity(c_n);
        'chan: for c in 0..c_n {
            for (p, m) in [(1, 1), (1, 2), (2, 1), (1, 4), (4, 1)] {
                if p > h || p > w {
                    continue;
                }
                let (base0, _) = at(c, 0, 0, &mut ops);
                let ops0 = ops.clone();
                let mut phases = Vec::with_capacity(p * p);
                let mut ok = true;
                for py in 0..p {
                    for px in 0..p {
                        let (b, [ch, y, x]) = at(c, py, px, &mut ops);
                        ok &= b == base0 && ops == ops0;
                        phases.push((ch, y, x));
                    }
                }
                if !ok {
                    continue;
                }
                let map = ChanMap {
                    base: base0,
                    p,
                    m,
                    phases,
                    ops: ops0,
                };
                let mut check = |y: usize, x: usize| {
                    let (b, [ch, sy, sx]) = at(c, y, x, &mut ops);
                    let (pc, oy, ox) = map.phases[(y % p) * p + x % p];
                    b == map.base
                        && ops == map.ops
                        && ch == pc
                        && sy == (y / p) * m + oy
                        && sx == (x / p) * m + ox
                };
                let fits = if h * w <= EXHAUSTIVE {
                    (0..h).all(|y| (0..w).all(|x| check(y, x)))
                } else {
                    // Large planes: every row at the first and last EDGE columns, every column
                    // at the first and last EDGE rows, and SAMPLES pseudo-random elements (the
                    // maps of these ops are periodic with periods of at most a few pixels;
                    // grids up to EXHAUSTIVE elements are checked everywhere).
                    let edge = |n: usize| (0..n.min(EDGE)).chain(n.saturating_sub(EDGE)..n);
                    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ c as u64;
                    (0..h).all(|y| edge(w).all(|x| check(y, x)))
                        && (0..w).all(|x| edge(h).all(|y| check(y, x)))
                        && (0..SAMPLES).all(|_| {
                            seed = seed
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            let r = (seed >> 33) as usize;
                            check(r / w % h, r % w)
                        })
                };
                if fits {
                    maps.push(map);
                    continue 'chan;
                }
            }
            return Err(format!(
                "{what}: channel {c} is not a supported rearrangement of its source \
                 (only per-channel sub-pixel shuffles with factors 1, 2, 4)"
            ));
        }
        Ok(maps)
    }
}
