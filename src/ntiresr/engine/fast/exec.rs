//! Running a planned program: gathers and scatters by index arithmetic, convs by the kernels,
//! rows of ring buffers addressed modulo their depth.

#[cfg(target_arch = "x86_64")]
pub(super) use super::bf16_rows::Bf16Rows;
use super::dispatch::{conv_row_for, scatter_row_for};
use super::finite::all_finite;
use super::isa::Isa;
use super::layer::{EpiRt, KMAX, RowIo};
use super::plan::{Epi, MAX_EPI, Program, Step};
use super::ring::{Bf16Ring, Ring};
use super::rows_out::RowsOut;
use super::view::{Base, ChanMap, PointOp};

/// Pixels per tile when gathering into a ring row (NHWC, the whole row stays in L1/L2 anyway)
/// and when scattering to NCHW outputs (one cache line per channel). Multiples of 4.
const GATHER_TILE: usize = 1 << 20;
const SCATTER_TILE: usize = 32;

/// Memory of every buffer and graph tensor during one run.
pub(super) struct Mem<'a> {
    pub inputs: [&'a [f32]; 3],
    pub input_dims: &'a [[usize; 3]],
    pub rings: &'a [Ring],
    /// Per buffer, its bf16 twin (the bf16 path only).
    pub twins: &'a [Option<Bf16Ring>],
}

/// The channels `only` names, in its order, or all `n` of them when it is None.
fn chosen(only: Option<&[usize]>, n: usize) -> impl Iterator<Item = usize> + '_ {
    (0..only.map_or(n, <[usize]>::len)).map(move |i| only.map_or(i, |o| o[i]))
}

/// Writes rows `y0..y1` of a destination with `w` pixels per row, channel c from `maps[c]`
/// (every channel, or those in `only`);
/// `dst(y)` is the start of row y, `dcs`/`dps` the channel and pixel strides there; `tile`
/// pixels at a time.
///
/// # Safety
/// The maps were verified against the shapes `mem` describes, the rows they read are present in
/// their rings, and `dst` covers what is written.
unsafe fn copy_maps(
    maps: &[ChanMap],
    only: Option<&[usize]>,
    mem: &Mem,
    rows: std::ops::Range<usize>,
    w: usize,
    dst: impl Fn(usize) -> *mut f32,
    (dcs, dps, tile): (usize, usize, usize),
) {
    // Tiles of `tile` pixels (a multiple of every phase period): what a tile reads and writes
    // of every channel stays in L1 while the channels are transposed (NCHW <-> NHWC).
    for y in rows {
        let drow = dst(y);
        for x0 in (0..w).step_by(tile) {
            let x1 = (x0 + tile).min(w);
            for c in chosen(only, maps.len()) {
                let m = &maps[c];
                let (py, yb) = (y % m.p, y / m.p);
                for px in 0..m.p.min(w) {
                    let (ch, oy, ox) = m.phases[py * m.p + px];
                    let sy = yb * m.m + oy;
                    let (srow, sps) = match m.base {
                        Base::Input(i) => {
                            let [_, h, iw] = mem.input_dims[i];
                            // SAFETY: (ch, sy) is inside input i (checked when planned).
                            (
                                unsafe { mem.inputs[i].as_ptr().add((ch * h + sy) * iw + ox) },
                                1,
                            )
                        }
                        Base::Buf(b) => {
                            let r = mem.rings[b];
                            let p = unsafe { r.row_ptr(sy as isize).add(ox * r.cs + ch) };
                            (p as *const f32, r.cs)
                        }
                    };
                    // Pixels X = px + k * p of this tile.
                    let k0 = x0 / m.p;
                    let k1 = (x1 - px).div_ceil(m.p).max(k0);
                    let (step, dstep) = (m.m * sps, m.p * dps);
                    let d0 = unsafe { drow.add(c * dcs + px * dps) };
                    let ks = k0..k1;
                    // SAFETY (all loops): the maps were verified for every (y, X).
                    match *m.ops.as_slice() {
                        [] => {
                            for k in ks {
                                unsafe { *d0.add(k * dstep) = *srow.add(k * step) };
                            }
                        }
                        [PointOp::Affine(a, b)] => {
                            for k in ks {
                                unsafe { *d0.add(k * dstep) = *srow.add(k * step) * a + b };
                            }
                        }
                        [PointOp::Clip(lo, hi)] => {
                            for k in ks {
                                let v = unsafe { *srow.add(k * step) };
                                unsafe { *d0.add(k * dstep) = v.max(lo).min(hi) };
                            }
                        }
                        _ => {
                            for k in ks {
                                let mut v = unsafe { *srow.add(k * step) };
                                for op in &m.ops {
                                    v = op.apply(v);
                                }
                                unsafe { *d0.add(k * dstep) = v };
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The period `p` (1 or 2) of a gather that [`gather8_row`] runs: 8 channels into a buffer of
/// 8, each from an input at the same pixel of its own phase (no offsets, no subsampling), scaled
/// and shifted at most, on rows a multiple of 8 wide.
#[cfg(target_arch = "x86_64")]
fn gather8_period(maps: &[ChanMap], cs: usize, w: usize) -> Option<usize> {
    let p = maps.first()?.p;
    let simple = |m: &ChanMap| {
        matches!(m.base, Base::Input(_))
            && m.p == p
            && m.m == 1
            && m.phases.iter().all(|&(_, oy, ox)| oy == 0 && ox == 0)
            && matches!(*m.ops.as_slice(), [] | [PointOp::Affine(..)])
    };
    (maps.len() == 8
        && cs == 8
        && w.is_multiple_of(8)
        && (p == 1 || p == 2)
        && maps.iter().all(simple))
    .then_some(p)
}

/// Row `y` of a gather that [`gather8_period`] accepted, eight pixels at a time: the channels'
/// source rows are loaded as vectors (interleaved for period 2), scaled, and transposed so that
/// each pixel's 8 channels are one store.
///
/// # Safety
/// As [`copy_maps`] for these maps and row, and the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gather8_row(maps: &[ChanMap], p: usize, mem: &Mem, y: usize, w: usize, dst: *mut f32) {
    use super::lanes::{Avx2, Lanes};
    use std::arch::x86_64::*;
    let (py, yb) = (y % p, y / p);
    // Each channel's source row for phase px = 0 and 1, and its affine op.
    let mut src = [[std::ptr::null::<f32>(); 2]; 8];
    let mut scale = [1f32; 8];
    let mut shift = [0f32; 8];
    for (c, m) in maps.iter().enumerate() {
        let Base::Input(i) = m.base else {
            unreachable!("checked by gather8_period")
        };
        let [_, h, iw] = mem.input_dims[i];
        for (px, row) in src[c].iter_mut().enumerate().take(p) {
            let (ch, _, _) = m.phases[py * p + px];
            // SAFETY: (ch, yb) is inside input i (checked when planned).
            *row = unsafe { mem.inputs[i].as_ptr().add((ch * h + yb) * iw) };
        }
        if let [PointOp::Affine(a, b)] = *m.ops.as_slice() {
            (scale[c], shift[c]) = (a, b);
        }
    }
    unsafe {
        for x in (0..w).step_by(8) {
            let mut r = [_mm256_setzero_ps(); 8];
            for (c, rc) in r.iter_mut().enumerate() {
                let v = if p == 1 {
                    _mm256_loadu_ps(src[c][0].add(x))
                } else {
                    let (a, b) = (
                        _mm_loadu_ps(src[c][0].add(x / 2)),
                        _mm_loadu_ps(src[c][1].add(x / 2)),
                    );
                    _mm256_set_m128(_mm_unpackhi_ps(a, b), _mm_unpacklo_ps(a, b))
                };
                // The same rounding as the scalar path: a multiply, then an add.
                *rc = _mm256_add_ps(
                    _mm256_mul_ps(v, _mm256_set1_ps(scale[c])),
                    _mm256_set1_ps(shift[c]),
                );
            }
            let mut r = r.map(Avx2);
            Avx2::transpose(&mut r);
            for (j, rj) in r.into_iter().enumerate() {
                rj.store(dst.add((x + j) * 8));
            }
        }
    }
}

/// No bf16 path off x86-64: nothing to round.
#[cfg(not(target_arch = "x86_64"))]
pub(super) enum Bf16Rows {}

/// Row `r` of `ri` as the bf16 kernel reads it.
///
/// # Safety
/// As [`Bf16Rows::row`].
#[cfg(target_arch = "x86_64")]
unsafe fn bf16_row(b: &mut Bf16Rows, ri: &Ring, r: isize) -> *const u32 {
    unsafe { b.row(ri, r) }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn bf16_row(b: &mut Bf16Rows, _: &Ring, _: isize) -> *const u32 {
    match *b {}
}

/// Runs rows `rows` of one step (a conv on the bf16 path reads its input through `bf16`). A scatter writes only the rows its output lends, and clears its
/// output's flag in `finite` when it wrote a value that is not finite.
///
/// # Safety
/// `mem` and `outs` match the program the step belongs to, and the schedule guarantees the rows
/// it reads are present.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn run_rows(
    isa: Isa,
    prog: &Program,
    step: &Step,
    mem: &Mem,
    outs: &[&RowsOut; 2],
    rows: std::ops::Range<usize>,
    finite: &mut [bool; 2],
    mut bf16: Option<&mut Bf16Rows>,
) {
    match step {
        Step::Gather { dst, maps } => {
            let r = mem.rings[*dst];
            let w = prog.bufs[*dst].w;
            let dst = |y: usize| r.row_ptr(y as isize);
            #[cfg(target_arch = "x86_64")]
            if isa != Isa::Portable
                && let Some(p) = gather8_period(maps, r.cs, w)
            {
                for y in rows {
                    // SAFETY: as copy_maps (the same maps and rows), checked by gather8_period.
                    unsafe { gather8_row(maps, p, mem, y, w, dst(y)) };
                }
                return;
            }
            unsafe { copy_maps(maps, None, mem, rows, w, dst, (1, r.cs, GATHER_TILE)) };
        }
        Step::Scatter {
            out,
            maps,
            blocks,
            rest,
        } => {
            let [_, _, w] = prog.outputs[*out];
            let target = outs[*out];
            let lent = target.run_rows();
            let rows = rows.start.max(lent.start)..rows.end.min(lent.end);
            if rows.is_empty() {
                return;
            }
            let dst = |y: usize| target.row_ptr(0, y);
            let dcs = target.channel_stride();
            // The blocks by in-register transposes; the other channels one by one, then checked.
            let scatter = scatter_row_for(isa);
            for y in rows.clone() {
                for b in blocks {
                    let r = mem.rings[b.buf];
                    // SAFETY: the block's maps were verified like any other.
                    let src = unsafe {
                        r.row_ptr((y * b.m + b.oy) as isize)
                            .add(b.ox * r.cs + b.ch0)
                    };
                    let d: [*mut f32; 16] = std::array::from_fn(|j| target.row_ptr(b.dst[j], y));
                    let stride = b.m * r.cs;
                    finite[*out] &= unsafe { scatter(src, stride, w, &d, &b.ops) };
                }
            }
            if !rest.is_empty() {
                unsafe {
                    copy_maps(
                        maps,
                        Some(rest),
                        mem,
                        rows.clone(),
                        w,
                        dst,
                        (dcs, 1, SCATTER_TILE),
                    )
                };
                for &c in rest {
                    for y in rows.clone() {
                        // SAFETY: a lent row of `w` floats, just written.
                        let row = unsafe { std::slice::from_raw_parts(target.row_ptr(c, y), w) };
                        finite[*out] &= all_finite(row);
                    }
                }
            }
        }
        Step::Conv {
            src,
            dst,
            layer: l,
            epi,
            ..
        } => {
            let (ri, ro) = (mem.rings[*src], mem.rings[*dst]);
            let twin = |b: usize| mem.twins.get(b).copied().flatten();
            let (twin_in, twin_out) = (twin(*src), twin(*dst));
            let conv_row = conv_row_for(isa);
            let mut rt = [EpiRt::Point(PointOp::Relu); MAX_EPI];
            for oy in rows {
                let mut io = RowIo {
                    rin: [std::ptr::null(); KMAX],
                    rin_bf16: [std::ptr::null(); KMAX],
                    in_cs: ri.cs,
                    out: ro.row_ptr(oy as isize),
                    out_bf16: twin_out.map_or(std::ptr::null_mut(), |t| t.row_ptr(oy as isize)),
                };
                for ky in 0..l.kh {
                    let r = (oy * l.sy + ky) as isize - l.pad_y as isize;
                    io.rin[ky] = ri.row_ptr(r);
                    // A bf16 conv rounds its own rows where it was planned to (`bf16`), and
                    // reads its input's twin otherwise.
                    if let Some(b) = bf16.as_deref_mut() {
                        // SAFETY: the schedule keeps row r present and unchanged in this run;
                        // the bf16 rows exist only on the bf16 path (AVX512-BF16 checked at plan).
                        io.rin_bf16[ky] = unsafe { bf16_row(b, &ri, r) };
                    } else if let Some(t) = twin_in {
                        // From pixel -pad_x, as the bf16 kernel reads it (within the border).
                        io.rin_bf16[ky] = unsafe { t.row_ptr(r).sub(l.pad_x * t.cs) };
                    }
                }
                for (r, e) in rt.iter_mut().zip(epi) {
                    *r = match *e {
                        Epi::Point(p) => EpiRt::Point(p),
                        Epi::Add(b) => EpiRt::Add(mem.rings[b].row_ptr(oy as isize)),
                    };
                }
                // SAFETY: the rows cover the layer (planned so), the CPU runs `isa` (checked at plan).
                unsafe { conv_row(l, &io, &rt[..epi.len()]) };
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// The vector gather writes what the scalar one writes, for period 1 and 2.
    #[test]
    fn gather8_equals_the_scalar_gather() {
        if !Isa::Avx2Fma.available() {
            return;
        }
        let (gw, gh) = (8, 3);
        let input: Vec<f32> = (0..16 * gw * gh)
            .map(|i| (i * 7 % 31) as f32 * 0.1)
            .collect();
        let dims = [[16, gh, gw]; 3];
        let mem = Mem {
            inputs: [&input, &input, &input],
            input_dims: &dims,
            rings: &[],
            twins: &[],
        };
        for p in [1, 2] {
            let w = gw * p;
            let maps: Vec<ChanMap> = (0..8)
                .map(|c| ChanMap {
                    base: Base::Input(c % 3),
                    p,
                    m: 1,
                    phases: (0..p * p).map(|k| (2 * c + k % 2, 0, 0)).collect(),
                    ops: if c % 2 == 0 {
                        vec![PointOp::Affine(1.5, -0.5)]
                    } else {
                        vec![]
                    },
                })
                .collect();
            assert_eq!(gather8_period(&maps, 8, w), Some(p));
            for y in 0..gh * p {
                let (mut fast, mut slow) = (vec![0f32; 8 * w], vec![0f32; 8 * w]);
                unsafe {
                    gather8_row(&maps, p, &mem, y, w, fast.as_mut_ptr());
                    let row = slow.as_mut_ptr();
                    let dst = |_| row;
                    copy_maps(&maps, None, &mem, y..y + 1, w, dst, (1, 8, GATHER_TILE));
                }
                assert_eq!(fast, slow, "period {p}, row {y}");
            }
        }
    }
}
