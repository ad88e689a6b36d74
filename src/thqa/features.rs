//! thqa v3 features: statistics of a frame's luma that betray compression and scale.
//!
//! Mirrors `training/thqa/v3_features.py` (the parity fixture `tests/data/thqa_v3_features.bin`
//! holds the features Python computed on synthetic frames). The luma is read in 64x64 tiles on
//! the 64-px grid, so every codec block grid of 4..32 px keeps its phase; at most [`MAX_TILES`]
//! tiles, every k-th in row-major order. Per tile, in integers: |neighbour differences| summed per
//! boundary phase mod 32 (and counted when 0 or at most 2), |Laplacian| of the tile and of its 2x2
//! and 4x4 box sums, the range of every aligned 8x8 and 4x4 block, and H.265's integer 8x8 DCT of
//! the 8 blocks on its diagonal.

use super::patches::LumaView;

/// Tile side, in pixels.
pub const TILE: usize = 64;
/// The most tiles read from one frame.
pub const MAX_TILES: usize = 128;
/// Number of features; their order is `FEATURES` of the Python module.
pub const COUNT: usize = 16;

/// The tiles' top-left corners: every k-th tile of the 64-px grid, row-major; a frame with no
/// whole tile gets one at (0, 0), read edge-repeated.
pub fn tile_origins(width: usize, height: usize) -> impl Iterator<Item = (usize, usize)> {
    let (nx, ny) = (width / TILE, height / TILE);
    let n = nx * ny;
    let k = n.div_ceil(MAX_TILES).max(1);
    let small = n == 0 && width > 0 && height > 0;
    let nx = nx.max(1);
    (0..n.max(small as usize))
        .step_by(k)
        .map(move |t| ((t % nx) * TILE, (t / nx) * TILE))
}

/// Reads the tile at (`ox`, `oy`); pixels past the frame repeat its last row and column.
fn read_tile(frame: &LumaView, ox: usize, oy: usize, tile: &mut [u8; TILE * TILE]) {
    let w = (frame.width - ox).min(TILE);
    for y in 0..TILE {
        let row = &mut tile[y * TILE..(y + 1) * TILE];
        frame.read_row(ox, (oy + y).min(frame.height - 1), &mut row[..w]);
        let last = row[w - 1];
        row[w..].fill(last);
    }
}

/// The sums the features are made of.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sums {
    diff: [u64; 32],
    cnt: [u64; 32],
    lap: [u64; 3],
    lap_n: [u64; 3],
    flat1: u64,
    flat4: u64,
    blocks: u64,
    flat4x4: u64,
    blocks4: u64,
    diff0: u64,
    diff2: u64,
    diffs: u64,
    e_hi: f64,
    e_ac: f64,
    zero: u64,
    nzero: u64,
}

/// H.265's integer 8-point DCT: rows about 64 * sqrt(8) times the orthonormal basis, so a
/// coefficient / [`DCT_UNIT`] is about the orthonormal one (integers keep Python and Rust exact).
const DCT: [[i32; 8]; 8] = [
    [64, 64, 64, 64, 64, 64, 64, 64],
    [89, 75, 50, 18, -18, -50, -75, -89],
    [83, 36, -36, -83, -83, -36, 36, 83],
    [75, -18, -89, -50, 50, 89, 18, -75],
    [64, -64, -64, 64, 64, -64, -64, 64],
    [50, -89, 18, 75, -75, -18, 89, -50],
    [36, -83, 83, -36, -36, 83, -83, 36],
    [18, -50, 75, -89, 89, -75, 50, -18],
];
const DCT_UNIT: i32 = 1 << 15;

/// Sum of |4c - n - s - w - e| over the interior of a `side x side` grid of integers.
fn laplacian(a: &[i32], side: usize) -> u64 {
    let mut sum = 0u64;
    for y in 1..side - 1 {
        let (up, row, down) = (&a[(y - 1) * side..], &a[y * side..], &a[(y + 1) * side..]);
        for x in 1..side - 1 {
            let v = 4 * row[x] - up[x] - down[x] - row[x - 1] - row[x + 1];
            sum += v.unsigned_abs() as u64;
        }
    }
    sum
}

/// Halves a `side x side` grid by 2x2 sums.
fn box2(a: &[i32], side: usize, out: &mut [i32]) {
    let h = side / 2;
    for y in 0..h {
        for x in 0..h {
            let i = 2 * y * side + 2 * x;
            out[y * h + x] = a[i] + a[i + 1] + a[i + side] + a[i + side + 1];
        }
    }
}

impl Sums {
    /// Adds one 64x64 tile (row-major).
    fn add_tile(&mut self, t: &[u8; TILE * TILE]) {
        // neighbour differences per boundary phase
        // per column (horizontal) and per row (vertical), in lanes the compiler can vectorise
        let (mut col, mut col0, mut col2) = ([0u32; TILE - 1], [0u32; TILE - 1], [0u32; TILE - 1]);
        for y in 0..TILE {
            let row = &t[y * TILE..(y + 1) * TILE];
            for x in 0..TILE - 1 {
                let d = row[x + 1].abs_diff(row[x]);
                col[x] += d as u32;
                col0[x] += (d == 0) as u32;
                col2[x] += (d <= 2) as u32;
            }
        }
        let (mut d0, mut d2) = (0u64, 0u64);
        for x in 0..TILE - 1 {
            self.diff[(x + 1) % 32] += col[x] as u64;
            d0 += col0[x] as u64;
            d2 += col2[x] as u64;
        }
        for y in 0..TILE - 1 {
            let (a, b) = (
                &t[y * TILE..(y + 1) * TILE],
                &t[(y + 1) * TILE..(y + 2) * TILE],
            );
            let (mut s, mut z, mut small) = (0u32, 0u32, 0u32);
            for (p, q) in a.iter().zip(b) {
                let d = p.abs_diff(*q);
                s += d as u32;
                z += (d == 0) as u32;
                small += (d <= 2) as u32;
            }
            self.diff[(y + 1) % 32] += s as u64;
            d0 += z as u64;
            d2 += small as u64;
        }
        self.diff0 += d0;
        self.diff2 += d2;
        self.diffs += (2 * TILE * (TILE - 1)) as u64;
        for p in 1..TILE {
            self.cnt[p % 32] += 2 * TILE as u64;
        }
        // Laplacians at three scales
        let mut full = [0i32; TILE * TILE];
        for (o, v) in full.iter_mut().zip(t.iter()) {
            *o = *v as i32;
        }
        let mut b2 = [0i32; 32 * 32];
        let mut b4 = [0i32; 16 * 16];
        box2(&full, TILE, &mut b2);
        box2(&b2, 32, &mut b4);
        self.lap[0] += laplacian(&full, TILE);
        self.lap[1] += laplacian(&b2, 32);
        self.lap[2] += laplacian(&b4, 16);
        self.lap_n[0] += 62 * 62;
        self.lap_n[1] += 30 * 30;
        self.lap_n[2] += 14 * 14;
        // ranges of the 8x8 blocks
        for by in 0..8 {
            for bx in 0..8 {
                let (mut lo, mut hi) = (u8::MAX, 0u8);
                for y in 0..8 {
                    let r = &t[(8 * by + y) * TILE + 8 * bx..][..8];
                    for &v in r {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                let range = hi - lo;
                self.flat1 += (range <= 1) as u64;
                self.flat4 += (range <= 4) as u64;
            }
        }
        self.blocks += 64;
        for by in 0..16 {
            for bx in 0..16 {
                let (mut lo, mut hi) = (u8::MAX, 0u8);
                for y in 0..4 {
                    for &v in &t[(4 * by + y) * TILE + 4 * bx..][..4] {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                self.flat4x4 += (hi - lo <= 1) as u64;
            }
        }
        self.blocks4 += 256;
        // DCT of the diagonal blocks
        for b in 0..8 {
            // i32 is exact: |DCT x| <= 255 * 512 and |DCT x DCT^T| <= 255 * 512^2 < 2^31
            let mut tmp = [[0i32; 8]; 8]; // DCT x
            for (k, row) in tmp.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = (0..8)
                        .map(|i| DCT[k][i] * t[(8 * b + i) * TILE + 8 * b + j] as i32)
                        .sum();
                }
            }
            for (k, row) in tmp.iter().enumerate() {
                for (l, basis) in DCT.iter().enumerate() {
                    let c: i32 = row.iter().zip(basis).map(|(a, b)| a * b).sum();
                    let c2 = (c as f64 / DCT_UNIT as f64).powi(2);
                    if k + l > 0 {
                        self.e_ac += c2;
                    }
                    if k + l >= 8 {
                        self.e_hi += c2;
                    }
                    if k + l >= 6 {
                        self.nzero += 1;
                        self.zero += (c.abs() < DCT_UNIT) as u64;
                    }
                }
            }
        }
    }

    /// The feature vector (Python's `FEATURES` order) for a frame enlarged 2^`log2_upscale` times.
    pub fn features(&self, log2_upscale: f64) -> [f64; COUNT] {
        let sum = |m: &dyn Fn(usize) -> bool, a: &[u64; 32]| -> f64 {
            (0..32).filter(|&p| m(p)).map(|p| a[p]).sum::<u64>() as f64
        };
        let odd = |p: usize| p % 2 == 1;
        let off = sum(&odd, &self.diff) / sum(&odd, &self.cnt);
        let on = |g: usize| {
            let m = move |p: usize| p.is_multiple_of(g);
            sum(&m, &self.diff) / sum(&m, &self.cnt)
        };
        let all = |_: usize| true;
        let grad = sum(&all, &self.diff) / sum(&all, &self.cnt);
        let lap = |i: usize, div: f64| self.lap[i] as f64 / self.lap_n[i] as f64 / div;
        let blk = |g: usize| ((on(g) + 1.0) / (off + 1.0)).ln();
        [
            log2_upscale,
            (grad + 1.0).ln(),
            (lap(0, 1.0) + 1.0).ln(),
            (lap(1, 4.0) + 1.0).ln(),
            (lap(2, 16.0) + 1.0).ln(),
            blk(4),
            blk(8),
            blk(16),
            blk(32),
            self.flat1 as f64 / self.blocks as f64,
            self.flat4 as f64 / self.blocks as f64,
            ((self.e_hi + 1.0) / (self.e_ac + 1.0)).ln(),
            self.zero as f64 / self.nzero as f64,
            self.diff0 as f64 / self.diffs as f64,
            self.diff2 as f64 / self.diffs as f64,
            self.flat4x4 as f64 / self.blocks4 as f64,
        ]
    }
}

/// log2 of how much a `width x height` frame is enlarged for a display of `display` lines
/// (0 when it is judged at its own size).
pub fn log2_upscale(width: usize, height: usize, display: usize) -> f64 {
    let short = width.min(height).max(1);
    (short.max(display) as f64 / short as f64).log2()
}

/// The sums of a frame's tiles; None for an empty frame or a view that does not fit its data.
pub fn sums(frame: &LumaView) -> Option<Sums> {
    if !frame.is_complete() {
        return None;
    }
    let mut tile = [0u8; TILE * TILE];
    let mut s = Sums::default();
    let mut any = false;
    for (ox, oy) in tile_origins(frame.width, frame.height) {
        read_tile(frame, ox, oy, &mut tile);
        s.add_tile(&tile);
        any = true;
    }
    any.then_some(s)
}

/// The features of a frame judged on a display of `display` lines.
pub fn features(frame: &LumaView, display: usize) -> Option<[f64; COUNT]> {
    let s = sums(frame)?;
    Some(s.features(log2_upscale(frame.width, frame.height, display)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thqa::patches::LumaLayout;

    fn view(data: &[u8], width: usize, height: usize) -> LumaView<'_> {
        LumaView {
            data,
            width,
            height,
            stride: width,
            layout: LumaLayout::Direct { step: 1, offset: 0 },
        }
    }

    #[test]
    fn tiles_are_capped_and_spread() {
        assert_eq!(tile_origins(63, 1080).collect::<Vec<_>>(), [(0, 0)]);
        assert_eq!(tile_origins(0, 1080).count(), 0);
        assert_eq!(tile_origins(480, 270).count(), 7 * 4);
        let hd: Vec<_> = tile_origins(1920, 1080).collect();
        assert_eq!(hd.len(), 120); // 480 tiles, every 4th
        assert!(
            hd.iter().any(|&(_, y)| y == 15 * 64),
            "the last row of tiles is read"
        );
    }

    #[test]
    fn block_edges_raise_the_8px_blockiness_only_on_their_grid() {
        // 8x8 blocks of constant luma: every difference is on the 8-px grid.
        let (w, h) = (128, 128);
        let blocky: Vec<u8> = (0..w * h)
            .map(|i| (((i % w) / 8 * 37 + (i / w) / 8 * 91) % 200 + 20) as u8)
            .collect();
        let f = features(&view(&blocky, w, h), h).unwrap();
        assert!(f[6] > 2.0, "blk8 {}", f[6]);
        assert_eq!(f[9], 1.0, "every block is flat");
        // The same picture shifted by 4 px puts its edges on the 4-px grid, off the 8-px one.
        let shifted: Vec<u8> = (0..w * h)
            .map(|i| blocky[((i / w + 4) % h) * w + (i % w + 4) % w])
            .collect();
        let g = features(&view(&shifted, w, h), h).unwrap();
        assert!(g[6].abs() < 1e-12, "shifted blk8 {}", g[6]);
        assert!(g[5] > 1.0, "shifted blk4 {}", g[5]);
    }

    #[test]
    fn bad_views_give_no_features() {
        let data = vec![0u8; 100];
        assert!(features(&view(&data, 640, 480), 1080).is_none());
        assert!(features(&view(&data, 0, 10), 1080).is_none());
        let mut odd = view(&data, 10, 10);
        odd.stride = 5; // rows overlap
        assert!(features(&odd, 1080).is_none());
    }

    #[test]
    fn a_frame_smaller_than_a_tile_is_read_edge_repeated() {
        let (w, h) = (50, 36);
        let small: Vec<u8> = (0..w * h).map(|i| (i * 7 % 251) as u8).collect();
        let padded: Vec<u8> = (0..TILE * TILE)
            .map(|i| small[(i / TILE).min(h - 1) * w + (i % TILE).min(w - 1)])
            .collect();
        let a = features(&view(&small, w, h), 1080).unwrap();
        let b = features(&view(&padded, TILE, TILE), 1080).unwrap();
        assert_eq!(a[1..], b[1..]);
    }
}
