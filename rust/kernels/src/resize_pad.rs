//! The NIPS 2017 2nd-place randomisation (iyswim, `defense.py`): nearest-neighbour resize to
//! `rnd × rnd`, `rnd` drawn uniformly from `[min_size, max_size]`, then pad to `out_size × out_size`
//! with the image placed at a random `(top, left)` in `[0, out_size − rnd]²`.
//!
//! Nearest neighbour follows TensorFlow 1's `resize_images(NEAREST_NEIGHBOR)` that the defense used
//! (no half-pixel centres): `src = min(floor(dst · (in / out)), in − 1)` with the scale and product
//! in float32, exactly as TF computes it. Unlike the original, each image gets its own draw from its
//! own seed, so results do not depend on batch composition; pass equal seeds to share one draw.

use rayon::prelude::*;

use crate::batch::Dims;
use crate::error::{KernelError, Result};

/// `(rnd, top, left)` of one image.
pub type Params = [i64; 3];

/// splitmix64 (Steele, Lea & Flood 2014): tiny, well mixed, and easy to reproduce anywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=hi` by Lemire's multiply-shift (bias below 2⁻⁵⁰ for these ranges).
    fn upto(&mut self, hi: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(hi + 1)) >> 64) as u64
    }
}

/// The parameters that `seed` draws.
pub fn draw_params(seed: u64, out_size: usize, min_size: usize, max_size: usize) -> Params {
    let mut rng = SplitMix64(seed);
    let rnd = min_size + rng.upto((max_size - min_size) as u64) as usize;
    let top = rng.upto((out_size - rnd) as u64);
    let left = rng.upto((out_size - rnd) as u64);
    [rnd as i64, top as i64, left as i64]
}

fn check_sizes(out_size: usize, min_size: usize, max_size: usize) -> Result<()> {
    if out_size == 0 || out_size > crate::resize::MAX_SIDE {
        return Err(KernelError::Param(format!(
            "out_size must be in 1..={}, got {out_size}",
            crate::resize::MAX_SIDE
        )));
    }
    if !(1 <= min_size && min_size <= max_size && max_size <= out_size) {
        return Err(KernelError::Param(format!(
            "sizes must satisfy 1 <= min_size <= max_size <= out_size, got {min_size}, {max_size}, {out_size}"
        )));
    }
    Ok(())
}

/// TF1 nearest-neighbour source index table for `out` samples of an axis of length `len`.
fn nearest_table(len: usize, out: usize) -> Vec<usize> {
    let scale = len as f32 / out as f32;
    (0..out)
        .map(|d| (((d as f32) * scale).floor() as usize).min(len - 1))
        .collect()
}

/// Resizes `src` (one image) to `rnd × rnd` into `dst` (`out_size²` pixels, pre-filled with padding).
fn place(src: &[u8], dims: Dims, p: Params, out_size: usize, dst: &mut [u8]) {
    let c = dims.c;
    let (rnd, top, left) = (p[0] as usize, p[1] as usize, p[2] as usize);
    let rows = nearest_table(dims.h, rnd);
    let cols = nearest_table(dims.w, rnd);
    for (y, &sy) in rows.iter().enumerate() {
        let s = &src[sy * dims.row()..(sy + 1) * dims.row()];
        let d = &mut dst[((top + y) * out_size + left) * c..][..rnd * c];
        for (px, &sx) in d.chunks_exact_mut(c).zip(&cols) {
            px.copy_from_slice(&s[sx * c..(sx + 1) * c]);
        }
    }
}

/// Applies explicit `(rnd, top, left)` parameters, one triple per image.
pub fn resize_pad(
    data: &[u8],
    dims: Dims,
    out_size: usize,
    params: &[Params],
    pad_value: u8,
) -> Result<Vec<u8>> {
    dims.check(data.len())?;
    check_sizes(out_size, 1, 1)?;
    if params.len() != dims.n {
        return Err(KernelError::Shape(format!(
            "{} images but {} parameter rows",
            dims.n,
            params.len()
        )));
    }
    for (i, &[rnd, top, left]) in params.iter().enumerate() {
        let fits = |v: i64| v >= 0 && rnd + v <= out_size as i64;
        if !(rnd >= 1 && rnd <= out_size as i64 && fits(top) && fits(left)) {
            return Err(KernelError::Param(format!(
                "image {i}: (rnd, top, left) = ({rnd}, {top}, {left}) does not fit in {out_size}x{out_size}"
            )));
        }
    }
    let out_per = out_size * out_size * dims.c;
    let mut out = vec![pad_value; dims.n * out_per];
    if dims.n == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(out_per)
        .zip(data.par_chunks(dims.per_image()))
        .zip(params.par_iter())
        .for_each(|((o, src), &p)| place(src, dims, p, out_size, o));
    Ok(out)
}

/// Draws parameters from `seeds[i]` for image `i` and applies them; returns the images and the
/// parameters used.
pub fn random_resize_pad(
    data: &[u8],
    dims: Dims,
    out_size: usize,
    min_size: usize,
    max_size: usize,
    seeds: &[u64],
    pad_value: u8,
) -> Result<(Vec<u8>, Vec<Params>)> {
    check_sizes(out_size, min_size, max_size)?;
    if seeds.len() != dims.n {
        return Err(KernelError::Shape(format!(
            "{} images but {} seeds",
            dims.n,
            seeds.len()
        )));
    }
    let params: Vec<Params> = seeds
        .iter()
        .map(|&s| draw_params(s, out_size, min_size, max_size))
        .collect();
    let out = resize_pad(data, dims, out_size, &params, pad_value)?;
    Ok((out, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_sequence() {
        // First outputs of splitmix64 seeded with 1234567 (reference implementation by Vigna).
        let mut r = SplitMix64(1_234_567);
        assert_eq!(r.next(), 6_457_827_717_110_365_317);
        assert_eq!(r.next(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn params_stay_in_range_and_cover_it() {
        let mut seen_rnd = std::collections::BTreeSet::new();
        for seed in 0..2000u64 {
            let [rnd, top, left] = draw_params(seed, 331, 310, 330);
            assert!((310..=330).contains(&rnd));
            assert!((0..=331 - rnd).contains(&top) && (0..=331 - rnd).contains(&left));
            seen_rnd.insert(rnd);
        }
        assert_eq!(seen_rnd.len(), 21);
    }

    #[test]
    fn places_a_nearest_resized_copy_inside_padding() {
        let d = Dims::new(1, 2, 2, 1);
        let out = resize_pad(&[1, 2, 3, 4], d, 5, &[[4, 1, 0]], 9).unwrap();
        #[rustfmt::skip]
        let expect = vec![
            9, 9, 9, 9, 9,
            1, 1, 2, 2, 9,
            1, 1, 2, 2, 9,
            3, 3, 4, 4, 9,
            3, 3, 4, 4, 9,
        ];
        assert_eq!(out, expect);
    }

    #[test]
    fn rejects_params_that_do_not_fit() {
        let d = Dims::new(1, 2, 2, 1);
        assert!(resize_pad(&[0; 4], d, 5, &[[4, 2, 0]], 0).is_err());
        assert!(resize_pad(&[0; 4], d, 5, &[[0, 0, 0]], 0).is_err());
        assert!(random_resize_pad(&[0; 4], d, 5, 4, 6, &[1], 0).is_err());
        assert!(random_resize_pad(&[0; 4], d, 5, 3, 4, &[1, 2], 0).is_err());
    }
}
