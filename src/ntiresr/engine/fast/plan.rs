//! The planned program: buffers, steps, and which memory each buffer lives in.

use super::layer::ConvLayer;
use super::transpose::Block16;
use super::view::{ChanMap, PointOp};

/// Zero columns kept left and right of every row of an internal buffer (rows above and below
/// the tensor read as a shared row of zeros): covers 3x3 convs with padding 1.
pub(super) const BORDER: usize = 1;
/// Most element-wise ops fused after one conv.
pub(super) const MAX_EPI: usize = 8;

/// An internal NHWC tensor: `h` rows of `w` pixels of `cs` floats, each row between [`BORDER`]
/// zero pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct BufGeom {
    pub h: usize,
    pub w: usize,
    pub cs: usize,
}

impl BufGeom {
    /// Floats per row, the zero border columns included.
    pub fn row(&self) -> usize {
        (self.w + 2 * BORDER) * self.cs
    }
}

/// A fused epilogue op (after the bias), in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Epi {
    Point(PointOp),
    /// Adds the same element of another buffer (same geometry).
    Add(usize),
}

#[derive(Clone, Debug)]
pub(super) enum Step {
    /// Builds a buffer (channel `c` from `maps[c]`) out of graph inputs or other buffers.
    Gather { dst: usize, maps: Vec<ChanMap> },
    Conv {
        src: usize,
        dst: usize,
        layer: ConvLayer,
        epi: Vec<Epi>,
        name: String,
    },
    /// Writes graph output `out` (NCHW), channel `c` from `maps[c]`; with AVX-512 or AVX2,
    /// `blocks` by in-register transposes and the channels `rest` one by one.
    Scatter {
        out: usize,
        maps: Vec<ChanMap>,
        blocks: Vec<Block16>,
        rest: Vec<usize>,
    },
}

impl Step {
    pub fn writes(&self) -> Option<usize> {
        match self {
            Step::Gather { dst, .. } | Step::Conv { dst, .. } => Some(*dst),
            Step::Scatter { .. } => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Step::Gather { maps, .. } => format!("gather {} ch", maps.len()),
            Step::Conv {
                layer: l,
                name,
                epi,
                ..
            } => format!(
                "conv {name} {}x{}/{} {}->{} {}x{} +{} fused",
                l.kh,
                l.kw,
                l.sy,
                l.cin,
                l.cout,
                l.ow,
                l.oh,
                epi.len()
            ),
            Step::Scatter {
                out, maps, blocks, ..
            } => {
                format!(
                    "scatter output {out} ({} ch, {} transposed)",
                    maps.len(),
                    16 * blocks.len()
                )
            }
        }
    }
}

/// What the planner produced for one grid.
#[derive(Clone, Debug)]
pub(super) struct Program {
    pub bufs: Vec<BufGeom>,
    pub steps: Vec<Step>,
    /// `[C, h, w]` of the graph inputs and outputs, in `run`'s order.
    pub inputs: Vec<[usize; 3]>,
    pub outputs: Vec<[usize; 3]>,
}

impl Program {
    pub fn flop(&self) -> f64 {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Conv { layer, .. } => layer.flop(),
                _ => 0.0,
            })
            .sum()
    }
}
