//! FastNet against tract on the shipped model, the tiny test model, random weights and
//! variants with other widths, state sizes and depths; odd grids and widths that are not a
//! multiple of any vector width; every instruction-set path this CPU runs.

use super::{FastNet, Isa};
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

const SHIPPED: &[u8] = include_bytes!("../../../../models/ntiresr.onnx");
const TINY: &[u8] = include_bytes!("../../../../tests/data/tiny.onnx");
const GLOBAL_MEAN: &[u8] = include_bytes!("../../../../tests/data/global_mean.onnx");
const WRONG_CONTRACT: &[u8] = include_bytes!("../../../../tests/data/wrong_contract.onnx");
const THQA_TINY: &[u8] = include_bytes!("../../../../tests/data/thqa_tiny.onnx");

/// Grids (w, h): odd, tiny, and luma widths (2w) that are not multiples of 6, 14 or 16.
const GRIDS: [(usize, usize); 6] = [(1, 1), (3, 2), (7, 5), (12, 7), (13, 9), (37, 11)];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next()
    }
}

fn proto(bytes: &[u8]) -> ModelProto {
    tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .unwrap()
}

fn graph_mut(m: &mut ModelProto) -> &mut tract_onnx::pb::GraphProto {
    m.graph.as_mut().unwrap()
}

/// Replaces every float initializer by random values (weights scaled by fan-in).
fn randomize(m: &mut ModelProto, seed: u64) {
    let mut rng = Rng(seed);
    for t in &mut graph_mut(m).initializer {
        if t.data_type != 1 {
            continue;
        }
        let n: usize = t.dims.iter().product::<i64>() as usize;
        let fan_in: i64 = t.dims.iter().skip(1).product();
        let a = if t.dims.len() == 4 {
            1.5 / (fan_in as f32).sqrt()
        } else {
            0.2
        };
        let v: Vec<f32> = (0..n).map(|_| rng.range(-a, a)).collect();
        t.raw_data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        t.float_data.clear();
    }
}

/// Sets an initializer to a new shape with random values.
fn reshape_init(m: &mut ModelProto, name: &str, dims: &[i64], rng: &mut Rng) {
    let t = graph_mut(m)
        .initializer
        .iter_mut()
        .find(|t| t.name == name)
        .unwrap();
    t.dims = dims.to_vec();
    let n: i64 = dims.iter().product();
    let fan_in: i64 = dims.iter().skip(1).product();
    let a = if dims.len() == 4 {
        1.5 / (fan_in as f32).sqrt()
    } else {
        0.2
    };
    t.raw_data = (0..n)
        .flat_map(|_| rng.range(-a, a).to_le_bytes())
        .collect();
    t.float_data.clear();
}

/// The shipped graph with `c` luma feature channels, `s` state channels and the last body
/// block(s) removed down to `body` (of 5).
fn variant(c: i64, s: i64, body: usize) -> ModelProto {
    let mut m = proto(SHIPPED);
    let mut rng = Rng(77 + c as u64 * 3 + s as u64 + body as u64);
    randomize(&mut m, 5 + c as u64);
    let lin = 4 + s / 4;
    reshape_init(&mut m, "head.weight", &[c, lin, 3, 3], &mut rng);
    reshape_init(&mut m, "head.bias", &[c], &mut rng);
    for k in 0..5 {
        reshape_init(&mut m, &format!("body.{k}.weight"), &[c, c, 3, 3], &mut rng);
        reshape_init(&mut m, &format!("body.{k}.bias"), &[c], &mut rng);
    }
    reshape_init(&mut m, "luma.weight", &[16, c, 3, 3], &mut rng);
    reshape_init(&mut m, "chroma_point.weight", &[32 + s, 16, 1, 1], &mut rng);
    reshape_init(&mut m, "chroma_point.bias", &[32 + s], &mut rng);
    reshape_init(&mut m, "chroma_luma.weight", &[32 + s, c, 2, 2], &mut rng);
    let g = graph_mut(&mut m);
    for v in g.input.iter_mut().chain(g.output.iter_mut()) {
        if v.name == "state" || v.name == "state_out" {
            use tract_onnx::pb::tensor_shape_proto::dimension::Value as D;
            use tract_onnx::pb::type_proto::Value as T;
            if let Some(T::TensorType(t)) = v.r#type.as_mut().and_then(|t| t.value.as_mut())
                && let Some(d) = t.shape.as_mut().and_then(|s| s.dim.get_mut(1))
            {
                d.value = Some(D::DimValue(s));
            }
        }
    }
    // Drop body blocks `body..5`: their conv and LeakyRelu, re-wiring the skip Add.
    for k in (body..5).rev() {
        let conv = g
            .node
            .iter()
            .position(|n| n.name == format!("/body.{k}/Conv"))
            .unwrap();
        let input = g.node[conv].input[0].clone();
        let act_out = g.node[conv + 1].output[0].clone();
        g.node.drain(conv..conv + 2);
        for n in &mut g.node {
            for i in &mut n.input {
                if *i == act_out {
                    *i = input.clone();
                }
            }
        }
    }
    m
}

fn inputs(shapes: [[usize; 3]; 3], seed: u64) -> [Vec<f32>; 3] {
    let mut rng = Rng(seed);
    let mut make = |s: [usize; 3], lo: f32, hi: f32| {
        (0..s.iter().product::<usize>())
            .map(|_| rng.range(lo, hi))
            .collect::<Vec<f32>>()
    };
    [
        make(shapes[0], 0.0, 1.0),
        make(shapes[1], 0.0, 1.0),
        make(shapes[2], -1.0, 1.0),
    ]
}

/// tract's outputs (residual, state_out) for the same inputs.
fn tract_outputs(m: &ModelProto, shapes: [[usize; 3]; 3], x: &[Vec<f32>; 3]) -> [Vec<f32>; 2] {
    let mut model = tract_onnx::onnx().model_for_proto_model(m).unwrap();
    let names = ["frame", "prev_frame", "state"];
    let order: Vec<usize> = model
        .input_outlets()
        .unwrap()
        .iter()
        .map(|o| {
            names
                .iter()
                .position(|n| *n == model.node(o.node).name)
                .unwrap()
        })
        .collect();
    for (ix, &k) in order.iter().enumerate() {
        let [c, h, w] = shapes[k];
        model
            .set_input_fact(ix, InferenceFact::dt_shape(f32::datum_type(), [1, c, h, w]))
            .unwrap();
    }
    let outs: Vec<String> = model
        .output_outlets()
        .unwrap()
        .iter()
        .map(|o| model.outlet_label(*o).unwrap().to_string())
        .collect();
    let run = model.into_optimized().unwrap().into_runnable().unwrap();
    let ins: TVec<TValue> = order
        .iter()
        .map(|&k| {
            let [c, h, w] = shapes[k];
            Tensor::from_shape(&[1, c, h, w], &x[k])
                .unwrap()
                .into_tvalue()
        })
        .collect();
    let res = run.run(ins).unwrap();
    let get = |name: &str| {
        let i = outs.iter().position(|o| o == name).unwrap();
        res[i]
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<f32>>()
    };
    [get("residual"), get("state_out")]
}

/// Runs FastNet twice (the second run must not depend on the first) and compares with tract.
fn check(m: &ModelProto, grid: (usize, usize), isa: Isa, rows: usize, what: &str) -> f32 {
    let mut net = FastNet::plan_proto(m, grid, isa, rows)
        .unwrap_or_else(|e| panic!("{what}: refused on {grid:?}: {e}"));
    let shapes = net.input_shapes();
    let x = inputs(shapes, grid.0 as u64 * 31 + grid.1 as u64);
    let want = tract_outputs(m, shapes, &x);
    let [r, s] = net
        .output_shapes()
        .map(|s| vec![f32::NAN; s.iter().product()]);
    let (mut r, mut s) = (r, s);
    let junk = inputs(shapes, 999);
    net.run(&junk[0], &junk[1], &junk[2], &mut r, &mut s)
        .unwrap();
    let finite = net.run(&x[0], &x[1], &x[2], &mut r, &mut s).unwrap();
    assert_eq!(
        finite, [true; 2],
        "{what} {isa:?} grid {grid:?}: finite outputs"
    );
    let mut worst = 0f32;
    for (k, (got, want)) in [(&r, &want[0]), (&s, &want[1])].into_iter().enumerate() {
        assert_eq!(got.len(), want.len(), "{what} output {k}");
        for (i, (a, b)) in got.iter().zip(want.iter()).enumerate() {
            let err = (a - b).abs();
            assert!(
                err <= isa.tolerance() * b.abs().max(1.0),
                "{what} {isa:?} grid {grid:?} output {k} element {i}: fast {a} tract {b}"
            );
            worst = worst.max(err);
        }
    }
    worst
}

fn check_all(m: &ModelProto, what: &str, grids: &[(usize, usize)]) {
    for isa in Isa::all_available() {
        for &g in grids {
            // Row pipeline (1 and 2 rows per sweep) and whole planes.
            for rows in [1, 2, 0] {
                let e = check(m, g, isa, rows, what);
                eprintln!("{what} {isa:?} {g:?} rows/sweep {rows}: max |fast - tract| = {e:e}");
            }
        }
    }
}

#[test]
fn a_non_finite_output_is_reported_on_every_isa() {
    for isa in Isa::all_available() {
        let mut net = FastNet::plan_proto(&proto(SHIPPED), (13, 9), isa, 2).unwrap();
        let shapes = net.input_shapes();
        let [mut r, mut s] = net.output_shapes().map(|s| vec![0.0; s.iter().product()]);
        for at in [0, 5 * 13 + 7] {
            let mut x = inputs(shapes, 7);
            x[0][at] = f32::NAN;
            let finite = net.run(&x[0], &x[1], &x[2], &mut r, &mut s).unwrap();
            // The residual carries the NaN; the state may lose it in a clamp (x86's max/min
            // give the finite operand), and is reported as it comes out.
            let really = [&r, &s].map(|o| o.iter().all(|v| v.is_finite()));
            assert_eq!(
                (finite, really[0]),
                (really, false),
                "{isa:?}: a NaN input at {at}"
            );
            let clean = inputs(shapes, 7);
            let finite = net
                .run(&clean[0], &clean[1], &clean[2], &mut r, &mut s)
                .unwrap();
            assert_eq!(finite, [true; 2], "{isa:?}: the next clean frame");
        }
    }
}

#[test]
fn shipped_model_equals_tract() {
    check_all(&proto(SHIPPED), "shipped", &GRIDS);
}

/// On the bf16 path, the twins a conv writes for the next (`ring::Bf16Ring`) give exactly the
/// outputs of each conv rounding its input rows itself: the same values, rounded the same way.
#[cfg(target_arch = "x86_64")]
#[test]
fn bf16_twins_change_no_output() {
    if !Isa::Avx512Bf16.available() {
        return;
    }
    let m = proto(SHIPPED);
    for grid in [(37, 11), (13, 9)] {
        let plan = || FastNet::plan_proto(&m, grid, Isa::Avx512Bf16, 2).unwrap();
        let (mut twins, mut own) = (plan(), plan().without_twins());
        assert!(
            twins.twins.iter().any(Option::is_some),
            "the shipped model has twins"
        );
        let shapes = twins.input_shapes();
        let outs = |net: &mut FastNet| {
            let [r, s] = net.output_shapes().map(|s| vec![0f32; s.iter().product()]);
            let (mut r, mut s) = (r, s);
            for seed in [5, 6] {
                let x = inputs(shapes, seed);
                net.run(&x[0], &x[1], &x[2], &mut r, &mut s).unwrap();
            }
            (r, s)
        };
        assert!(outs(&mut twins) == outs(&mut own), "grid {grid:?}");
    }
}

#[test]
fn tiny_model_equals_tract() {
    check_all(&proto(TINY), "tiny", &GRIDS);
}

#[test]
fn random_weights_equal_tract() {
    let mut m = proto(SHIPPED);
    randomize(&mut m, 1);
    check_all(&m, "shipped/random", &GRIDS);
    let mut m = proto(TINY);
    randomize(&mut m, 2);
    check_all(&m, "tiny/random", &GRIDS);
}

#[test]
fn other_widths_depths_and_states_equal_tract() {
    for (c, s, body) in [(8, 16, 5), (24, 16, 2), (16, 8, 0), (36, 32, 1)] {
        check_all(
            &variant(c, s, body),
            &format!("c{c} s{s} body{body}"),
            &[(7, 5), (19, 6)],
        );
    }
}

#[test]
fn large_grid_equals_tract() {
    check(
        &proto(SHIPPED),
        (120, 68),
        Isa::detect(),
        2,
        "shipped 120x68",
    );
}

#[test]
fn refuses_what_it_does_not_cover() {
    let e = FastNet::plan(GLOBAL_MEAN, (8, 6), Isa::Portable)
        .err()
        .unwrap();
    assert!(e.contains("ReduceMean"), "{e}");
    let e = FastNet::plan(WRONG_CONTRACT, (8, 6), Isa::Portable)
        .err()
        .unwrap();
    assert!(e.contains("state"), "{e}");
    assert!(FastNet::plan(THQA_TINY, (8, 6), Isa::Portable).is_err());
    assert!(FastNet::plan(b"not onnx", (8, 6), Isa::Portable).is_err());
    // A dilated conv is refused with its reason.
    let mut m = proto(TINY);
    for n in &mut graph_mut(&mut m).node {
        for a in &mut n.attribute {
            if a.name == "dilations" {
                a.ints = vec![2, 2];
            }
        }
    }
    let e = FastNet::plan_proto(&m, (8, 6), Isa::Portable, 2)
        .err()
        .unwrap();
    assert!(e.contains("dilated"), "{e}");
}

#[test]
fn plans_report_shapes_and_cost() {
    let net = FastNet::plan(SHIPPED, (240, 135), Isa::Portable).unwrap();
    assert_eq!(
        net.input_shapes(),
        [[6, 135, 240], [6, 135, 240], [16, 135, 240]]
    );
    assert_eq!(net.output_shapes(), [[96, 135, 240], [16, 135, 240]]);
    let gflop = net.flop() / 1e9;
    assert!((gflop - 4.19).abs() < 0.01, "{gflop}");
}

#[test]
fn one_net_per_thread() {
    fn send<T: Send>() {}
    send::<FastNet>();
    let mut net = FastNet::plan(TINY, (9, 4), Isa::detect()).unwrap();
    let x = inputs(net.input_shapes(), 3);
    let [mut r, mut s] = net.output_shapes().map(|s| vec![0f32; s.iter().product()]);
    let finite = std::thread::spawn(move || net.run(&x[0], &x[1], &x[2], &mut r, &mut s))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(finite, [true, true]);
}

#[test]
fn buffers_of_the_wrong_length_are_errors_naming_the_tensor() {
    let mut net = FastNet::plan(TINY, (9, 4), Isa::Portable).unwrap();
    let x = inputs(net.input_shapes(), 3);
    let [mut r, mut s] = net.output_shapes().map(|s| vec![0f32; s.iter().product()]);
    let short = &x[0][1..];
    let e = net.run(short, &x[1], &x[2], &mut r, &mut s).unwrap_err();
    assert!(e.contains("frame"), "{e}");
    let e = net
        .run(&x[0], &x[1], &x[2][..7], &mut r, &mut s)
        .unwrap_err();
    assert!(e.contains("state"), "{e}");
    let mut wide = vec![0f32; r.len() / 2];
    let e = net.run(&x[0], &x[1], &x[2], &mut wide, &mut s).unwrap_err();
    assert!(e.contains("residual"), "{e}");
    let e = net
        .run(&x[0], &x[1], &x[2], &mut r, &mut s[1..])
        .unwrap_err();
    assert!(e.contains("state_out"), "{e}");
    // Still runs with the right buffers.
    assert_eq!(
        net.run(&x[0], &x[1], &x[2], &mut r, &mut s),
        Ok([true, true])
    );
}
