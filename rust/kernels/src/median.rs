//! Median filter over each channel of each image, with exactly the semantics of
//! `scipy.ndimage.median_filter(x, size=(1, k, k, 1), mode="reflect")`:
//!
//! - borders: mode 'reflect' (half-sample symmetric, the edge pixel is repeated);
//! - window position: the window of output `(y, x)` starts at `(y − k/2, x − k/2)`, so an even window
//!   reaches one pixel further up/left than down/right (2×2 covers the pixel and its up/left neighbours);
//! - rank: element `k²/2` of the sorted window, i.e. the UPPER middle value for an even count (scipy's
//!   rank filter never averages).
//!
//! No crate implements these exact conventions (image crates centre even windows the other way, use
//! other border modes or average the two middle values), so the kernel is written here. 2×2 and 3×3
//! use branch-free min/max networks over whole rows, which the compiler vectorises; other sizes use
//! Huang's sliding histogram, O(k) per pixel.

use rayon::prelude::*;

use crate::batch::{reflect, Dims};
use crate::error::{KernelError, Result};

/// Largest window side accepted: beyond it the filter is a (slow) blur of the whole image.
pub const MAX_SIZE: usize = 255;

/// Applies a `size × size` median filter to a uint8 NHWC batch.
pub fn median_filter(data: &[u8], dims: Dims, size: usize) -> Result<Vec<u8>> {
    dims.check(data.len())?;
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(KernelError::Param(format!(
            "median filter size must be in 1..={MAX_SIZE}, got {size}"
        )));
    }
    let mut out = vec![0u8; data.len()];
    if data.is_empty() {
        return Ok(out);
    }
    if size == 1 {
        out.copy_from_slice(data);
        return Ok(out);
    }
    let per = dims.per_image();
    let row = dims.row();
    // One task per output row of the batch balances better than one per image.
    out.par_chunks_mut(row)
        .enumerate()
        .for_each_init(Vec::new, |scratch, (r, out_row)| {
            let (img, y) = (r / dims.h, r % dims.h);
            let image = &data[img * per..(img + 1) * per];
            match size {
                2 => row_2x2(image, dims, y, out_row, scratch),
                3 => row_3x3(image, dims, y, out_row, scratch),
                k => row_huang(image, dims, y, k, out_row),
            }
        });
    Ok(out)
}

fn src_row(image: &[u8], dims: Dims, y: isize) -> &[u8] {
    let r = reflect(y, dims.h);
    &image[r * dims.row()..(r + 1) * dims.row()]
}

/// Copies `src` (one row of `w` pixels) into `dst` with `before`/`after` reflected pixels on each side.
/// Only the edge pixels go through `reflect` (an integer division each); the interior is one copy.
fn pad_row(src: &[u8], dims: Dims, before: usize, after: usize, dst: &mut [u8]) {
    let (c, w) = (dims.c, dims.w);
    dst[before * c..(before + w) * c].copy_from_slice(&src[..w * c]);
    for p in (0..before).chain(before + w..before + w + after) {
        let s = reflect(p as isize - before as isize, w);
        dst[p * c..(p + 1) * c].copy_from_slice(&src[s * c..(s + 1) * c]);
    }
}

/// 2×2: sort each vertical pair once, then the upper median of two pairs is
/// `max(min(hi_a, hi_b), max(lo_a, lo_b))` (the largest value is one of the his; the next is the
/// larger of the other hi and both los).
fn row_2x2(image: &[u8], dims: Dims, y: usize, out: &mut [u8], scratch: &mut Vec<u8>) {
    let (c, n) = (dims.c, dims.row());
    let up = src_row(image, dims, y as isize - 1);
    let this = src_row(image, dims, y as isize);
    scratch.resize(4 * (n + c), 0);
    let (sorted, padded) = scratch.split_at_mut(2 * (n + c));
    let (lo_raw, hi_raw) = sorted.split_at_mut(n + c);
    for ((l, h), (&a, &b)) in lo_raw
        .iter_mut()
        .zip(hi_raw.iter_mut())
        .zip(up.iter().zip(this))
    {
        *l = a.min(b);
        *h = a.max(b);
    }
    let (lo, hi) = padded.split_at_mut(n + c);
    pad_row(&lo_raw[..n], dims, 1, 0, lo);
    pad_row(&hi_raw[..n], dims, 1, 0, hi);
    let (lo_a, lo_b) = (&lo[..n], &lo[c..c + n]);
    let (hi_a, hi_b) = (&hi[..n], &hi[c..c + n]);
    // Every slice has length exactly n, so the indexed loop carries no bounds checks and vectorises.
    let out = &mut out[..n];
    for (i, o) in out.iter_mut().enumerate() {
        *o = hi_a[i].min(hi_b[i]).max(lo_a[i].max(lo_b[i]));
    }
}

#[inline(always)]
fn sort3(a: u8, b: u8, c: u8) -> (u8, u8, u8) {
    let (lo, hi) = (a.min(b), a.max(b));
    let (mid, hi) = (hi.min(c), hi.max(c));
    let (lo, mid) = (lo.min(mid), lo.max(mid));
    (lo, mid, hi)
}

#[inline(always)]
fn med3(a: u8, b: u8, c: u8) -> u8 {
    a.min(b).max(a.max(b).min(c))
}

/// 3×3: sort each vertical triple once (min/mid/max), then the median of the 3×3 window is
/// `med3(max of the mins, med3 of the mids, min of the maxes)`.
fn row_3x3(image: &[u8], dims: Dims, y: usize, out: &mut [u8], scratch: &mut Vec<u8>) {
    let (c, n) = (dims.c, dims.row());
    let m = n + 2 * c;
    let r0 = src_row(image, dims, y as isize - 1);
    let r1 = src_row(image, dims, y as isize);
    let r2 = src_row(image, dims, y as isize + 1);
    scratch.resize(6 * m, 0);
    let (raw, padded) = scratch.split_at_mut(3 * m);
    let (lo_raw, rest) = raw.split_at_mut(m);
    let (mid_raw, hi_raw) = rest.split_at_mut(m);
    let (r0, r1, r2) = (&r0[..n], &r1[..n], &r2[..n]);
    let (lo_raw, mid_raw, hi_raw) = (&mut lo_raw[..n], &mut mid_raw[..n], &mut hi_raw[..n]);
    for i in 0..n {
        let (l, md, h) = sort3(r0[i], r1[i], r2[i]);
        lo_raw[i] = l;
        mid_raw[i] = md;
        hi_raw[i] = h;
    }
    let (lo, rest) = padded.split_at_mut(m);
    let (mid, hi) = rest.split_at_mut(m);
    pad_row(lo_raw, dims, 1, 1, lo);
    pad_row(mid_raw, dims, 1, 1, mid);
    pad_row(hi_raw, dims, 1, 1, hi);
    let (l0, l1, l2) = (&lo[..n], &lo[c..c + n], &lo[2 * c..2 * c + n]);
    let (m0, m1, m2) = (&mid[..n], &mid[c..c + n], &mid[2 * c..2 * c + n]);
    let (h0, h1, h2) = (&hi[..n], &hi[c..c + n], &hi[2 * c..2 * c + n]);
    let out = &mut out[..n];
    for (i, o) in out.iter_mut().enumerate() {
        let max_lo = l0[i].max(l1[i]).max(l2[i]);
        let med_mid = med3(m0[i], m1[i], m2[i]);
        let min_hi = h0[i].min(h1[i]).min(h2[i]);
        *o = med3(max_lo, med_mid, min_hi);
    }
}

/// Any size: Huang's running histogram along the row, one histogram per channel. `below` counts the
/// window values smaller than the current median `m`, so each step moves `m` only as far as needed.
fn row_huang(image: &[u8], dims: Dims, y: usize, k: usize, out: &mut [u8]) {
    let (c, w) = (dims.c, dims.w);
    let start = k as isize / 2;
    let rows: Vec<&[u8]> = (0..k)
        .map(|t| src_row(image, dims, y as isize - start + t as isize))
        .collect();
    let cols: Vec<usize> = (0..w + k).map(|p| reflect(p as isize - start, w)).collect();
    let rank = (k * k / 2) as u32;
    for ch in 0..c {
        let mut hist = [0u32; 256];
        for &col in &cols[..k] {
            for r in &rows {
                hist[r[col * c + ch] as usize] += 1;
            }
        }
        let (mut m, mut below) = (0usize, 0u32);
        for x in 0..w {
            if x > 0 {
                let (gone, new) = (cols[x - 1], cols[x + k - 1]);
                for r in &rows {
                    let (g, v) = (r[gone * c + ch] as usize, r[new * c + ch] as usize);
                    hist[g] -= 1;
                    hist[v] += 1;
                    below -= u32::from(g < m);
                    below += u32::from(v < m);
                }
            }
            while below > rank {
                m -= 1;
                below -= hist[m];
            }
            while below + hist[m] <= rank {
                below += hist[m];
                m += 1;
            }
            out[x * c + ch] = m as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition: gather the reflected window, sort, take element k²/2.
    fn naive(data: &[u8], d: Dims, k: usize) -> Vec<u8> {
        let mut out = vec![0u8; data.len()];
        let s = k as isize / 2;
        for i in 0..d.n {
            for y in 0..d.h {
                for x in 0..d.w {
                    for ch in 0..d.c {
                        let mut win = Vec::new();
                        for dy in 0..k as isize {
                            for dx in 0..k as isize {
                                let yy = reflect(y as isize - s + dy, d.h);
                                let xx = reflect(x as isize - s + dx, d.w);
                                win.push(data[i * d.per_image() + yy * d.row() + xx * d.c + ch]);
                            }
                        }
                        win.sort_unstable();
                        out[i * d.per_image() + y * d.row() + x * d.c + ch] = win[k * k / 2];
                    }
                }
            }
        }
        out
    }

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (s >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn every_path_equals_the_definition() {
        for (d, seed) in [
            (Dims::new(2, 7, 9, 3), 1),
            (Dims::new(1, 1, 5, 3), 2),
            (Dims::new(1, 4, 1, 1), 3),
            (Dims::new(3, 2, 2, 2), 4),
        ] {
            let data = noise(d.n * d.per_image(), seed);
            for k in 1..=7 {
                assert_eq!(
                    median_filter(&data, d, k).unwrap(),
                    naive(&data, d, k),
                    "{d:?} k={k}"
                );
            }
        }
    }

    #[test]
    fn two_by_two_takes_the_upper_middle() {
        // One channel, 2x2 image [[1, 2], [3, 4]]: the window of (1, 1) is {1, 2, 3, 4} -> 3.
        let out = median_filter(&[1, 2, 3, 4], Dims::new(1, 2, 2, 1), 2).unwrap();
        assert_eq!(out[3], 3);
        // (0, 0) sees only itself, reflected: {1, 1, 1, 1}.
        assert_eq!(out[0], 1);
    }

    #[test]
    fn rejects_bad_sizes() {
        let d = Dims::new(1, 2, 2, 1);
        assert!(matches!(
            median_filter(&[0; 4], d, 0),
            Err(KernelError::Param(_))
        ));
        assert!(matches!(
            median_filter(&[0; 4], d, 256),
            Err(KernelError::Param(_))
        ));
        assert!(matches!(
            median_filter(&[0; 3], d, 3),
            Err(KernelError::Shape(_))
        ));
    }
}
