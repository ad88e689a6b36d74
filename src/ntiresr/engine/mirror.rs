//! The left-right mirror of a frame, and the residual of a mirrored frame brought back.
//!
//! The mirror ensemble runs the network on a frame and on its mirror image (each with its own
//! recurrent state) and averages the two residuals: the network's errors on the two differ, so
//! their mean is closer to the truth than either.

use super::planes::{OUT_CHANNELS, Plane, RESIDUAL_LAYOUT};

/// Writes `src` mirrored left-right into `out` (rows packed, stride = width) and returns it.
pub fn mirror_plane<'a>(src: Plane, out: &'a mut Vec<u8>) -> Plane<'a> {
    out.clear();
    for y in 0..src.height {
        let row = &src.data[y * src.stride..];
        out.extend((0..src.width).rev().map(|x| row[x * src.step]));
    }
    Plane {
        data: out,
        stride: src.width,
        step: 1,
        width: src.width,
        height: src.height,
    }
}

/// `out = (direct + mirrored brought back) / 2` over the whole residual (`OUT_CHANNELS x h x w`
/// on a `(w, h)` grid) of a frame `width` luma samples wide; `mirrored` is the residual of the
/// mirrored frame.
///
/// Output luma column `X` of the frame is column `4 * width - 1 - X` of the mirrored one. Chroma
/// columns are reversed over the grid's `4 * w` (for an odd `width` the mirrored chroma plane is
/// then half a luma sample off, as its input was). Luma columns past `4 * width` (padding of an
/// odd width, cropped by the composition) keep the direct residual.
pub fn average_with_mirrored(
    direct: &[f32],
    mirrored: &[f32],
    out: &mut [f32],
    grid: (usize, usize),
    width: usize,
) {
    let (gw, gh) = grid;
    let n = gw * gh;
    assert!(
        direct.len() == OUT_CHANNELS * n
            && mirrored.len() == direct.len()
            && out.len() == direct.len(),
        "residual sizes"
    );
    assert!(
        width.div_ceil(2) == gw,
        "width {width} for a grid {gw} cells wide"
    );
    // Output columns covered by the mirror: the luma's own, the whole grid's for chroma.
    let columns = [4 * width, 4 * gw, 4 * gw];
    for ((first, block), columns) in RESIDUAL_LAYOUT.into_iter().zip(columns) {
        for dy in 0..block {
            for dx in 0..block {
                // Column block * x + dx maps to s - block * x: sub-pixel s % block of cell s / block - x.
                let s = columns as isize - 1 - dx as isize;
                let (last, from) = if s < 0 {
                    (-1, 0)
                } else {
                    (s / block as isize, s as usize % block)
                };
                let dst_ch = first + dy * block + dx;
                let src_ch = first + dy * block + from;
                for gy in 0..gh {
                    let row = gy * gw;
                    let d = &direct[dst_ch * n + row..][..gw];
                    let m = &mirrored[src_ch * n + row..][..gw];
                    let o = &mut out[dst_ch * n + row..][..gw];
                    for (x, (o, &d)) in o.iter_mut().zip(d).enumerate() {
                        *o = if x as isize <= last {
                            0.5 * (d + m[last as usize - x])
                        } else {
                            d
                        };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample (channel, cell x) of a residual whose plane `index` value at output column `X` and
    /// row `Y` is `f(index, X, Y)`.
    fn residual_from(grid: (usize, usize), f: impl Fn(usize, usize, usize) -> f32) -> Vec<f32> {
        let (gw, gh) = grid;
        let n = gw * gh;
        let mut r = vec![0.0; OUT_CHANNELS * n];
        for (index, (first, block)) in RESIDUAL_LAYOUT.into_iter().enumerate() {
            for gy in 0..gh {
                for x in 0..gw {
                    for dy in 0..block {
                        for dx in 0..block {
                            let ch = first + dy * block + dx;
                            r[ch * n + gy * gw + x] = f(index, block * x + dx, block * gy + dy);
                        }
                    }
                }
            }
        }
        r
    }

    #[test]
    fn mirror_plane_reverses_rows_and_drops_the_stride_padding() {
        let data = [1, 2, 3, 0, 4, 5, 6, 0];
        let src = Plane {
            data: &data,
            stride: 4,
            step: 1,
            width: 3,
            height: 2,
        };
        let mut out = Vec::new();
        let m = mirror_plane(src, &mut out);
        assert_eq!((m.width, m.height, m.stride), (3, 2, 3));
        assert_eq!(m.data, &[3, 2, 1, 6, 5, 4]);
    }

    /// The mirrored residual of a mirrored picture is the picture: averaging gives it back, at
    /// every column the output shows, for even and odd widths.
    #[test]
    fn the_mirrored_residual_lands_on_its_own_columns() {
        for width in [6usize, 7, 1, 2] {
            let grid = (width.div_ceil(2), 3);
            let columns = |index: usize| if index == 0 { 4 * width } else { 4 * grid.0 };
            let picture = |index: usize, x: usize, y: usize| (100 * index + 10 * y + x) as f32;
            let direct = residual_from(grid, picture);
            let mirrored = residual_from(grid, |index, x, y| {
                let c = columns(index);
                if x < c {
                    picture(index, c - 1 - x, y)
                } else {
                    -1e6
                }
            });
            let mut out = vec![f32::NAN; direct.len()];
            average_with_mirrored(&direct, &mirrored, &mut out, grid, width);
            assert_eq!(out, direct, "width {width}");
        }
    }

    #[test]
    fn averages_direct_and_mirrored_halves() {
        let width = 4;
        let grid = (2, 2);
        let direct = residual_from(grid, |_, x, _| x as f32);
        let mirrored = vec![1.0; direct.len()];
        let mut out = vec![0.0; direct.len()];
        average_with_mirrored(&direct, &mirrored, &mut out, grid, width);
        let expected = residual_from(grid, |_, x, _| (x as f32 + 1.0) / 2.0);
        assert_eq!(out, expected);
    }
}
