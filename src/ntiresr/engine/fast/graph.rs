//! The planner: walks the ONNX graph once for a fixed chroma grid and turns it into a
//! [`Program`] of gathers, fused convs and scatters, or says why it cannot.
//!
//! Covered: graph inputs `frame` [1, F, h, w], `prev_frame` [1, F, h, w] and `state` [1, S, h, w]
//! (F and S read from the declared shapes), outputs `residual` and `state_out` ([1, C, h, w]);
//! ops Conv (2-D, group 1, dilation 1, kernel height up to 8, any width and stride, pads 0 or 1,
//! any channel counts: outputs are computed in blocks of 16 channels, so widths that are not a
//! multiple of 16 cost the rounded-up width), LeakyRelu, Relu, Clip, Add/Sub/Mul/Div with a
//! scalar constant, Add of two conv results of the same shape (fused into the later conv's
//! epilogue; up to 8 fused ops per conv), x + x, Slice, Concat, Reshape, Transpose,
//! DepthToSpace (DCR/CRD), SpaceToDepth, Squeeze/Unsqueeze, Identity, and the integer shape
//! arithmetic around them (Shape, Gather, Constant, Concat, Cast, Add/Sub/Mul/Div). Every tensor
//! a conv reads or the graph outputs must be, channel by channel, a sub-pixel shuffle of one
//! source with factor 1, 2 or 4 (`view.rs`; checked element by element on small grids, on
//! edges, rows, columns and samples on large ones). Anything else is refused with the node's
//! name and the reason.

use super::layer::{BLOCK, ConvLayer};
use super::plan::{BufGeom, Epi, MAX_EPI, Program, Step};
use super::proto::{Const, attr, attr_f, attr_i, attr_ints, attr_s, declared_dims, decode_tensor};
use super::view::{Base, Kind, PointOp, Views};
use std::collections::HashMap;
use tract_onnx::pb::{ModelProto, NodeProto};

/// Graph input names, in the order of `FastNet::run`'s arguments.
pub(super) const INPUTS: [&str; 3] = ["frame", "prev_frame", "state"];
/// Graph output names, in the order of `FastNet::run`'s arguments.
pub(super) const OUTPUTS: [&str; 2] = ["residual", "state_out"];

#[derive(Clone, Debug)]
enum Val {
    C(Const),
    T(usize),
}

struct Builder {
    views: Views,
    vals: HashMap<String, Val>,
    uses: HashMap<String, usize>,
    bufs: Vec<BufGeom>,
    /// The conv step whose epilogue may still grow, per buffer.
    open: Vec<Option<usize>>,
    /// The step that writes each buffer.
    producer: Vec<usize>,
    steps: Vec<Step>,
}

fn ints_of(c: &Const) -> Option<&[i64]> {
    match c {
        Const::Ints { data, .. } => Some(data),
        _ => None,
    }
}

fn scalar_f(c: &Const) -> Option<f32> {
    match c {
        Const::Floats { data, .. } if data.len() == 1 => Some(data[0]),
        Const::Ints { data, .. } if data.len() == 1 => Some(data[0] as f32),
        _ => None,
    }
}

fn norm_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return Err(format!("axis {axis} out of range for rank {rank}"));
    }
    Ok(a as usize)
}

impl Builder {
    fn val(&self, name: &str) -> Result<&Val, String> {
        self.vals
            .get(name)
            .ok_or_else(|| format!("value `{name}` is not defined"))
    }

    fn tensor(&self, name: &str) -> Result<usize, String> {
        match self.val(name)? {
            Val::T(n) => Ok(*n),
            Val::C(_) => Err(format!("`{name}` is a constant where a tensor is expected")),
        }
    }

    fn konst(&self, name: &str) -> Result<&Const, String> {
        match self.val(name)? {
            Val::C(c) => Ok(c),
            Val::T(_) => Err(format!("`{name}` is not a constant")),
        }
    }

    fn ints(&self, name: &str) -> Result<Vec<i64>, String> {
        ints_of(self.konst(name)?)
            .map(|v| v.to_vec())
            .ok_or_else(|| format!("`{name}` is not an integer constant"))
    }

    fn shape(&self, n: usize) -> Vec<usize> {
        self.views.shape(n).to_vec()
    }

    /// The buffer a tensor is, when it is one as a whole.
    fn as_buf(&self, n: usize) -> Option<usize> {
        match self.views.nodes[n].kind {
            Kind::Base(Base::Buf(b)) => Some(b),
            _ => None,
        }
    }

    /// The conv step of a tensor whose epilogue can take one more op (an open buffer read only
    /// by this op).
    fn fusable(&self, name: &str, n: usize) -> Option<usize> {
        let b = self.as_buf(n)?;
        let step = self.open[b]?;
        (self.uses.get(name).copied() == Some(1)).then_some(step)
    }

    fn push_epi(&mut self, step: usize, e: Epi) -> Result<(), String> {
        match &mut self.steps[step] {
            Step::Conv { epi, .. } if epi.len() < MAX_EPI => {
                epi.push(e);
                Ok(())
            }
            _ => Err(format!(
                "more than {MAX_EPI} element-wise ops after one conv"
            )),
        }
    }

    /// An element-wise op on a tensor: fused into its conv when possible, else lazy.
    fn point(&mut self, out: &str, input: &str, op: PointOp) -> Result<(), String> {
        let n = self.tensor(input)?;
        if let Some(step) = self.fusable(input, n) {
            self.push_epi(step, Epi::Point(op))?;
            self.vals.insert(out.to_string(), Val::T(n));
        } else {
            let shape = self.shape(n);
            let m = self.views.push(shape, Kind::Point { src: n, op });
            self.vals.insert(out.to_string(), Val::T(m));
        }
        Ok(())
    }

    fn new_buf(&mut self, geom: BufGeom) -> usize {
        self.bufs.push(geom);
        self.open.push(None);
        self.producer.push(self.steps.len());
        self.bufs.len() - 1
    }

    /// A buffer holding tensor `n` (NHWC), gathered when it is not one already.
    fn materialize(&mut self, n: usize, what: &str) -> Result<usize, String> {
        if let Some(b) = self.as_buf(n) {
            self.open[b] = None;
            return Ok(b);
        }
        let maps = self.views.fit(n, what)?;
        let s = self.shape(n);
        for m in &maps {
            if let Base::Buf(b) = m.base {
                self.open[b] = None;
            }
        }
        let dst = self.new_buf(BufGeom {
            h: s[2],
            w: s[3],
            cs: s[1],
        });
        self.steps.push(Step::Gather { dst, maps });
        Ok(dst)
    }

    fn node(&mut self, nd: &NodeProto) -> Result<(), String> {
        let op = nd.op_type.as_str();
        let name = if nd.name.is_empty() {
            op
        } else {
            nd.name.as_str()
        };
        let ctx = |e: String| format!("node `{name}` ({op}): {e}");
        self.node_inner(nd).map_err(ctx)
    }

    fn input(nd: &NodeProto, i: usize) -> Option<&str> {
        nd.input
            .get(i)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    fn node_inner(&mut self, nd: &NodeProto) -> Result<(), String> {
        if !nd.domain.is_empty() && nd.domain != "ai.onnx" {
            return Err(format!("domain `{}` is not supported", nd.domain));
        }
        let out = nd.output.first().cloned().unwrap_or_default();
        if nd.output.len() != 1 {
            return Err(format!(
                "{} outputs (only one is supported)",
                nd.output.len()
            ));
        }
        let inp = |i: usize| Self::input(nd, i).ok_or_else(|| format!("input {i} is missing"));
        match nd.op_type.as_str() {
            "Constant" => {
                let a = attr(nd, "value")
                    .and_then(|a| a.t.as_ref())
                    .map(decode_tensor)
                    .transpose()?;
                let c = match a {
                    Some(c) => c,
                    None => {
                        if let Some(f) = attr(nd, "value_float") {
                            Const::Floats {
                                shape: vec![],
                                data: vec![f.f],
                            }
                        } else if let Some(i) = attr(nd, "value_int") {
                            Const::Ints {
                                shape: vec![],
                                data: vec![i.i],
                            }
                        } else if let Some(v) = attr_ints(nd, "value_ints") {
                            Const::Ints {
                                shape: vec![v.len()],
                                data: v,
                            }
                        } else {
                            return Err("unsupported Constant attribute".into());
                        }
                    }
                };
                self.vals.insert(out, Val::C(c));
            }
            "Identity" => {
                let v = self.val(inp(0)?)?.clone();
                self.vals.insert(out, v);
            }
            "Cast" => match self.val(inp(0)?)?.clone() {
                Val::C(Const::Ints { shape, data }) if attr_i(nd, "to") == Some(7) => {
                    self.vals.insert(out, Val::C(Const::Ints { shape, data }));
                }
                _ => return Err("only int64 shape arithmetic may be cast".into()),
            },
            "Shape" => {
                let s: Vec<i64> = match self.val(inp(0)?)? {
                    Val::T(n) => self.shape(*n).iter().map(|&d| d as i64).collect(),
                    Val::C(Const::Floats { shape, .. } | Const::Ints { shape, .. }) => {
                        shape.iter().map(|&d| d as i64).collect()
                    }
                };
                let r = s.len() as i64;
                let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                let start = clampi(attr_i(nd, "start").unwrap_or(0));
                let end = clampi(attr_i(nd, "end").unwrap_or(r));
                let data = s[start..end.max(start)].to_vec();
                self.vals.insert(
                    out,
                    Val::C(Const::Ints {
                        shape: vec![data.len()],
                        data,
                    }),
                );
            }
            "Gather" => {
                let (Val::C(Const::Ints { shape, data }), idx) =
                    (self.val(inp(0)?)?.clone(), self.konst(inp(1)?)?.clone())
                else {
                    return Err("Gather is supported on integer constants only".into());
                };
                let Const::Ints {
                    shape: ishape,
                    data: ind,
                } = idx
                else {
                    return Err("Gather indices must be integers".into());
                };
                if shape.len() != 1 || attr_i(nd, "axis").unwrap_or(0) != 0 {
                    return Err("Gather only on 1-D constants along axis 0".into());
                }
                let mut v = Vec::new();
                for &i in &ind {
                    let i = if i < 0 { i + data.len() as i64 } else { i };
                    v.push(*data.get(i as usize).ok_or("Gather index out of range")?);
                }
                self.vals.insert(
                    out,
                    Val::C(Const::Ints {
                        shape: ishape,
                        data: v,
                    }),
                );
            }
            "Unsqueeze" | "Squeeze" => {
                let axes = match Self::input(nd, 1) {
                    Some(a) => Some(self.ints(a)?),
                    None => attr_ints(nd, "axes"),
                };
                match self.val(inp(0)?)?.clone() {
                    Val::C(Const::Ints { shape, data }) => {
                        let shape = if nd.op_type == "Unsqueeze" {
                            let axes = axes.ok_or("Unsqueeze without axes")?;
                            let r = shape.len() + axes.len();
                            let mut s = shape.clone().into_iter();
                            let axes: Vec<usize> = axes
                                .iter()
                                .map(|&a| norm_axis(a, r))
                                .collect::<Result<_, _>>()?;
                            (0..r)
                                .map(|i| {
                                    if axes.contains(&i) {
                                        1
                                    } else {
                                        s.next().unwrap_or(1)
                                    }
                                })
                                .collect()
                        } else {
                            shape.into_iter().filter(|&d| d != 1).collect()
                        };
                        self.vals.insert(out, Val::C(Const::Ints { shape, data }));
                    }
                    Val::T(n) => {
                        let s = self.shape(n);
                        let axes = axes.ok_or("Squeeze/Unsqueeze of a tensor without axes")?;
                        let shape: Vec<usize> = if nd.op_type == "Unsqueeze" {
                            let r = s.len() + axes.len();
                            let axes: Vec<usize> = axes
                                .iter()
                                .map(|&a| norm_axis(a, r))
                                .collect::<Result<_, _>>()?;
                            let mut it = s.into_iter();
                            (0..r)
                                .map(|i| {
                                    if axes.contains(&i) {
                                        1
                                    } else {
                                        it.next().unwrap_or(1)
                                    }
                                })
                                .collect()
                        } else {
                            let axes: Vec<usize> = axes
                                .iter()
                                .map(|&a| norm_axis(a, s.len()))
                                .collect::<Result<_, _>>()?;
                            s.iter()
                                .enumerate()
                                .filter(|(i, _)| !axes.contains(i))
                                .map(|(_, &d)| d)
                                .collect()
                        };
                        self.reshape_to(out, n, shape)?;
                    }
                    _ => return Err("unsupported operand".into()),
                }
            }
            "Concat" => {
                let names: Vec<&str> = nd
                    .input
                    .iter()
                    .map(|s| s.as_str())
                    .filter(|s| !s.is_empty())
                    .collect();
                let all_ints: Option<Vec<i64>> = names
                    .iter()
                    .map(|n| match self.vals.get(*n) {
                        Some(Val::C(Const::Ints { data, .. })) => Some(data.clone()),
                        _ => None,
                    })
                    .try_fold(Vec::new(), |mut acc, v| {
                        acc.extend(v?);
                        Some(acc)
                    });
                if let Some(data) = all_ints {
                    self.vals.insert(
                        out,
                        Val::C(Const::Ints {
                            shape: vec![data.len()],
                            data,
                        }),
                    );
                } else {
                    let srcs: Vec<usize> = names
                        .iter()
                        .map(|n| self.tensor(n))
                        .collect::<Result<_, _>>()?;
                    let s0 = self.shape(srcs[0]);
                    let axis =
                        norm_axis(attr_i(nd, "axis").ok_or("Concat without axis")?, s0.len())?;
                    let mut shape = s0.clone();
                    shape[axis] = 0;
                    for &s in &srcs {
                        let si = self.shape(s);
                        if si.len() != s0.len()
                            || si
                                .iter()
                                .zip(&s0)
                                .enumerate()
                                .any(|(i, (a, b))| i != axis && a != b)
                        {
                            return Err(format!("Concat of shapes {s0:?} and {si:?}"));
                        }
                        shape[axis] += si[axis];
                    }
                    let m = self.views.push(shape, Kind::Concat { srcs, axis });
                    self.vals.insert(out, Val::T(m));
                }
            }
            "Slice" => {
                let n = self.tensor(inp(0)?)?;
                let s = self.shape(n);
                let (starts, ends, axes, steps) = if let Some(st) = attr_ints(nd, "starts") {
                    (
                        st,
                        attr_ints(nd, "ends").unwrap_or_default(),
                        attr_ints(nd, "axes"),
                        None,
                    )
                } else {
                    let o = |i| Self::input(nd, i).map(|a| self.ints(a)).transpose();
                    (self.ints(inp(1)?)?, self.ints(inp(2)?)?, o(3)?, o(4)?)
                };
                let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
                let mut cur = n;
                for (k, &a) in axes.iter().enumerate() {
                    let axis = norm_axis(a, s.len())?;
                    let d = s[axis] as i64;
                    let step = steps.as_ref().map(|v| v[k]).unwrap_or(1);
                    if step < 1 {
                        return Err("Slice with a step below 1".into());
                    }
                    let fix = |v: i64| (if v < 0 { v + d } else { v }).clamp(0, d);
                    let (b, e) = (fix(starts[k]), fix(ends[k]));
                    let len = if e > b {
                        ((e - b) + step - 1) / step
                    } else {
                        0
                    } as usize;
                    let mut shape = self.shape(cur);
                    shape[axis] = len;
                    cur = self.views.push(
                        shape,
                        Kind::Slice {
                            src: cur,
                            axis,
                            start: b as usize,
                            step: step as usize,
                        },
                    );
                }
                self.vals.insert(out, Val::T(cur));
            }
            "Reshape" => {
                let n = self.tensor(inp(0)?)?;
                let target = self.ints(inp(1)?)?;
                let s = self.shape(n);
                let total: usize = s.iter().product();
                let allowzero = attr_i(nd, "allowzero").unwrap_or(0) != 0;
                let mut shape: Vec<usize> = Vec::new();
                let mut infer = None;
                for (i, &t) in target.iter().enumerate() {
                    shape.push(match t {
                        0 if !allowzero => *s.get(i).ok_or("Reshape 0 beyond the input rank")?,
                        -1 => {
                            infer = Some(i);
                            1
                        }
                        t if t >= 0 => t as usize,
                        _ => return Err(format!("Reshape to {target:?}")),
                    });
                }
                if let Some(i) = infer {
                    let rest: usize = shape.iter().product();
                    if rest == 0 || !total.is_multiple_of(rest) {
                        return Err(format!("Reshape {s:?} to {target:?}"));
                    }
                    shape[i] = total / rest;
                }
                self.reshape_to(out, n, shape)?;
            }
            "Transpose" => {
                let n = self.tensor(inp(0)?)?;
                let s = self.shape(n);
                let perm: Vec<usize> = match attr_ints(nd, "perm") {
                    Some(p) => p
                        .iter()
                        .map(|&a| norm_axis(a, s.len()))
                        .collect::<Result<_, _>>()?,
                    None => (0..s.len()).rev().collect(),
                };
                let mut seen = vec![false; s.len()];
                for &p in &perm {
                    if seen[p] {
                        return Err(format!("Transpose perm {perm:?}"));
                    }
                    seen[p] = true;
                }
                let shape = perm.iter().map(|&p| s[p]).collect();
                let m = self.views.push(shape, Kind::Transpose { src: n, perm });
                self.vals.insert(out, Val::T(m));
            }
            "DepthToSpace" | "SpaceToDepth" => {
                let n = self.tensor(inp(0)?)?;
                let s = self.shape(n);
                let b = attr_i(nd, "blocksize").ok_or("no blocksize")?;
                if s.len() != 4 || !(1..=8).contains(&b) {
                    return Err(format!("{} of {s:?} with block {b}", nd.op_type));
                }
                let b = b as usize;
                let (shape, kind) = if nd.op_type == "DepthToSpace" {
                    if !s[1].is_multiple_of(b * b) {
                        return Err(format!("DepthToSpace of {} channels by {b}", s[1]));
                    }
                    let dcr = match attr_s(nd, "mode").as_deref() {
                        None | Some("DCR") => true,
                        Some("CRD") => false,
                        Some(m) => return Err(format!("mode {m}")),
                    };
                    (
                        vec![1, s[1] / (b * b), s[2] * b, s[3] * b],
                        Kind::DepthToSpace { src: n, b, dcr },
                    )
                } else {
                    if !s[2].is_multiple_of(b) || !s[3].is_multiple_of(b) {
                        return Err(format!("SpaceToDepth of {s:?} by {b}"));
                    }
                    (
                        vec![1, s[1] * b * b, s[2] / b, s[3] / b],
                        Kind::SpaceToDepth { src: n, b },
                    )
                };
                let m = self.views.push(shape, kind);
                self.vals.insert(out, Val::T(m));
            }
            "LeakyRelu" => {
                let alpha = attr_f(nd, "alpha").unwrap_or(0.01);
                self.point(&out, inp(0)?, PointOp::Leaky(alpha))?;
            }
            "Relu" => self.point(&out, inp(0)?, PointOp::Relu)?,
            "Clip" => {
                let bound = |i: usize, a: &str, d: f32| -> Result<f32, String> {
                    match Self::input(nd, i) {
                        Some(n) => scalar_f(self.konst(n)?).ok_or_else(|| "Clip bound".to_string()),
                        None => Ok(attr_f(nd, a).unwrap_or(d)),
                    }
                };
                let lo = bound(1, "min", f32::NEG_INFINITY)?;
                let hi = bound(2, "max", f32::INFINITY)?;
                self.point(&out, inp(0)?, PointOp::Clip(lo, hi))?;
            }
            "Add" | "Sub" | "Mul" | "Div" => self.binary(nd, &out)?,
            "Conv" => self.conv(nd, &out)?,
            other => return Err(format!("op {other} is not covered by the fast path")),
        }
        Ok(())
    }

    fn reshape_to(&mut self, out: String, n: usize, shape: Vec<usize>) -> Result<(), String> {
        let s = self.shape(n);
        if shape.iter().product::<usize>() != s.iter().product::<usize>() {
            return Err(format!("Reshape {s:?} to {shape:?}"));
        }
        if shape.len() > super::view::MAX_RANK {
            return Err(format!(
                "rank {} above {}",
                shape.len(),
                super::view::MAX_RANK
            ));
        }
        let m = if shape == s {
            n
        } else {
            self.views.push(shape, Kind::Reshape { src: n })
        };
        self.vals.insert(out, Val::T(m));
        Ok(())
    }

    fn binary(&mut self, nd: &NodeProto, out: &str) -> Result<(), String> {
        let (a, b) = (
            Self::input(nd, 0).ok_or("missing input")?,
            Self::input(nd, 1).ok_or("missing input")?,
        );
        let op = nd.op_type.as_str();
        match (self.val(a)?.clone(), self.val(b)?.clone()) {
            (
                Val::C(Const::Ints { shape, data: x }),
                Val::C(Const::Ints { data: y, shape: sy }),
            ) => {
                if x.len() != y.len() && y.len() != 1 && x.len() != 1 {
                    return Err("integer broadcast".into());
                }
                let n = x.len().max(y.len());
                let g = |v: &Vec<i64>, i: usize| if v.len() == 1 { v[0] } else { v[i] };
                let data = (0..n)
                    .map(|i| {
                        let (p, q) = (g(&x, i), g(&y, i));
                        match op {
                            "Add" => Ok(p + q),
                            "Sub" => Ok(p - q),
                            "Mul" => Ok(p * q),
                            _ if q != 0 => Ok(p.div_euclid(q)),
                            _ => Err("division by zero".to_string()),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let shape = if x.len() >= y.len() { shape } else { sy };
                self.vals
                    .insert(out.into(), Val::C(Const::Ints { shape, data }));
            }
            (Val::T(_), Val::C(c)) => {
                let k = scalar_f(&c).ok_or("only scalar constants are supported")?;
                let p = match op {
                    "Add" => PointOp::Affine(1.0, k),
                    "Sub" => PointOp::Affine(1.0, -k),
                    "Mul" => PointOp::Affine(k, 0.0),
                    _ => PointOp::Affine(1.0 / k, 0.0),
                };
                self.point(out, a, p)?;
            }
            (Val::C(c), Val::T(_)) => {
                let k = scalar_f(&c).ok_or("only scalar constants are supported")?;
                let p = match op {
                    "Add" => PointOp::Affine(1.0, k),
                    "Sub" => PointOp::Affine(-1.0, k),
                    "Mul" => PointOp::Affine(k, 0.0),
                    _ => return Err("constant divided by a tensor".into()),
                };
                self.point(out, b, p)?;
            }
            (Val::T(na), Val::T(nb)) if op == "Add" && na == nb => {
                // x + x: both uses are this node's.
                if let Some(u) = self.uses.get_mut(a) {
                    *u -= 1;
                }
                self.point(out, a, PointOp::Affine(2.0, 0.0))?;
            }
            (Val::T(na), Val::T(nb)) if op == "Add" => {
                if self.shape(na) != self.shape(nb) {
                    return Err(format!(
                        "Add of {:?} and {:?}",
                        self.shape(na),
                        self.shape(nb)
                    ));
                }
                // The target is the conv computed last whose result only this Add reads.
                let cands = [(a, na, nb), (b, nb, na)];
                let target = cands
                    .iter()
                    .filter_map(|&(name, n, other)| {
                        let step = self.fusable(name, n)?;
                        let ob = self.as_buf(other)?;
                        let same = self.bufs[ob] == self.bufs[self.as_buf(n)?];
                        (same && self.producer[ob] < step).then_some((step, n, ob))
                    })
                    .max_by_key(|t| t.0);
                let Some((step, n, ob)) = target else {
                    return Err("Add of two tensors that are not both conv results".into());
                };
                self.open[ob] = None;
                self.push_epi(step, Epi::Add(ob))?;
                self.vals.insert(out.into(), Val::T(n));
            }
            _ => return Err(format!("{op} of these operands is not supported")),
        }
        Ok(())
    }

    fn conv(&mut self, nd: &NodeProto, out: &str) -> Result<(), String> {
        let x = Self::input(nd, 0).ok_or("no input")?;
        let n = self.tensor(x)?;
        let s = self.shape(n);
        if s.len() != 4 || s[0] != 1 {
            return Err(format!("input shape {s:?}"));
        }
        let Const::Floats { shape: ws, data: w } =
            self.konst(Self::input(nd, 1).ok_or("no weights")?)?.clone()
        else {
            return Err("weights are not float".into());
        };
        let bias = match Self::input(nd, 2) {
            Some(b) => match self.konst(b)?.clone() {
                Const::Floats { data, .. } if data.len() == ws[0] => Some(data),
                _ => return Err("bias".into()),
            },
            None => None,
        };
        if ws.len() != 4 || ws[1] != s[1] {
            return Err(format!("weights {ws:?} for input {s:?}"));
        }
        if attr_i(nd, "group").unwrap_or(1) != 1 {
            return Err("grouped conv".into());
        }
        if attr_ints(nd, "dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
            return Err("dilated conv".into());
        }
        if attr_s(nd, "auto_pad").is_some_and(|p| p != "NOTSET" && p != "VALID") {
            return Err("auto_pad SAME".into());
        }
        if attr_ints(nd, "kernel_shape").is_some_and(|k| k != [ws[2] as i64, ws[3] as i64]) {
            return Err("kernel_shape differs from the weights".into());
        }
        let strides = attr_ints(nd, "strides").unwrap_or(vec![1, 1]);
        let pads = attr_ints(nd, "pads").unwrap_or(vec![0; 4]);
        if strides.len() != 2 || pads.len() != 4 || strides.iter().any(|&v| v < 1) {
            return Err(format!("strides {strides:?} pads {pads:?}"));
        }
        if pads.iter().any(|&p| !(0..=1).contains(&p)) {
            return Err(format!("pads {pads:?} (at most 1 is covered)"));
        }
        let (kh, kw, sy, sx) = (ws[2], ws[3], strides[0] as usize, strides[1] as usize);
        if kh > super::layer::KMAX {
            return Err(format!(
                "kernel height {kh} (at most {} is covered)",
                super::layer::KMAX
            ));
        }
        let p = |i: usize| pads[i] as usize;
        if s[2] + p(0) + p(2) < kh || s[3] + p(1) + p(3) < kw {
            return Err("kernel larger than the padded input".into());
        }
        let oh = (s[2] + p(0) + p(2) - kh) / sy + 1;
        let ow = (s[3] + p(1) + p(3) - kw) / sx + 1;
        let layer = ConvLayer::new(
            &w,
            bias.as_deref(),
            (ws[0], ws[1], kh, kw),
            (sy, sx),
            (p(0), p(1)),
            (oh, ow),
        );
        let src = self.materialize(n, &format!("input of conv `{}`", nd.name))?;
        let dst = self.new_buf(BufGeom {
            h: oh,
            w: ow,
            cs: ws[0].div_ceil(BLOCK) * BLOCK,
        });
        self.steps.push(Step::Conv {
            src,
            dst,
            layer,
            epi: Vec::new(),
            name: nd.name.clone(),
        });
        self.open[dst] = Some(self.steps.len() - 1);
        let v = self
            .views
            .push(vec![1, ws[0], oh, ow], Kind::Base(Base::Buf(dst)));
        self.vals.insert(out.into(), Val::T(v));
        Ok(())
    }
}

/// Plans `model` for a chroma grid of `w` x `h` cells.
pub(super) fn build(model: &ModelProto, (w, h): (usize, usize)) -> Result<Program, String> {
    let g = model.graph.as_ref().ok_or("the model has no graph")?;
    if w == 0 || h == 0 {
        return Err("empty grid".into());
    }
    let mut b = Builder {
        views: Views::default(),
        vals: HashMap::new(),
        uses: HashMap::new(),
        bufs: Vec::new(),
        open: Vec::new(),
        producer: Vec::new(),
        steps: Vec::new(),
    };
    for t in &g.initializer {
        b.vals.insert(t.name.clone(), Val::C(decode_tensor(t)?));
    }
    let mut inputs = Vec::new();
    for (i, name) in INPUTS.iter().enumerate() {
        let v = g
            .input
            .iter()
            .find(|v| v.name == *name)
            .ok_or_else(|| format!("the graph has no input `{name}`"))?;
        let d = declared_dims(v);
        let c = match d.get(1) {
            Some(Some(c)) if d.len() == 4 && *c > 0 => *c as usize,
            _ => return Err(format!("input `{name}` does not declare its channel count")),
        };
        let n = b.views.push(vec![1, c, h, w], Kind::Base(Base::Input(i)));
        b.vals.insert(name.to_string(), Val::T(n));
        inputs.push([c, h, w]);
    }
    for nd in &g.node {
        for i in &nd.input {
            *b.uses.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &g.output {
        *b.uses.entry(o.name.clone()).or_default() += 1;
    }
    for nd in &g.node {
        b.node(nd)?;
    }
    let mut outputs = Vec::new();
    for (i, name) in OUTPUTS.iter().enumerate() {
        if !g.output.iter().any(|o| o.name == *name) {
            return Err(format!("the graph has no output `{name}`"));
        }
        let n = b.tensor(name)?;
        let s = b.shape(n);
        if s.len() != 4 || s[0] != 1 || s[2] != h || s[3] != w {
            return Err(format!(
                "output `{name}` has shape {s:?}, not [1, C, {h}, {w}]"
            ));
        }
        let maps = b.views.fit(n, &format!("output `{name}`"))?;
        for m in &maps {
            if let Base::Buf(bb) = m.base {
                b.open[bb] = None;
            }
        }
        let (blocks, rest) = super::transpose::blocks(&maps);
        b.steps.push(Step::Scatter {
            out: i,
            maps,
            blocks,
            rest,
        });
        outputs.push([s[1], h, w]);
    }
    Ok(Program {
        bufs: b.bufs,
        steps: b.steps,
        inputs,
        outputs,
    })
}
