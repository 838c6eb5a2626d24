//! Bit-depth reduction (feature squeezing, Xu et al. 2018): keep `bits` bits per channel.
//!
//! uint8: `out = round(round(x · L / 255) · 255 / L)` with `L = 2^bits − 1`. Neither division can
//! land exactly on .5 (255 and L are odd, so `2·x·L` is never an odd multiple of 255, and likewise for
//! the second step), which makes every rounding rule agree; the kernel uses exact integer arithmetic.
//! float32 in [0, 1]: `out = rint(x · L) / L` (round half to even, as numpy's `rint`), EvadeML-Zoo's
//! formula.

use rayon::prelude::*;

use crate::error::{KernelError, Result};

const CHUNK: usize = 1 << 16;

fn levels(bits: i64) -> Result<u32> {
    if (1..=8).contains(&bits) {
        Ok((1u32 << bits) - 1)
    } else {
        Err(KernelError::Param(format!(
            "bits must be an integer in 1..=8, got {bits}"
        )))
    }
}

/// Nearest-integer division for non-negative values whose quotient is never exactly .5 away.
#[inline]
const fn div_round(num: u32, den: u32) -> u32 {
    (2 * num + den) / (2 * den)
}

/// The 256-entry lookup table of the uint8 reduction.
pub fn table(bits: i64) -> Result<[u8; 256]> {
    let l = levels(bits)?;
    let mut t = [0u8; 256];
    for (x, v) in t.iter_mut().enumerate() {
        *v = div_round(div_round(x as u32 * l, 255) * 255, l) as u8;
    }
    Ok(t)
}

/// Reduces uint8 values to `bits` bits per value, copying.
pub fn bit_depth(data: &[u8], bits: i64) -> Result<Vec<u8>> {
    let t = table(bits)?;
    let mut out = vec![0u8; data.len()];
    out.par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK))
        .for_each(|(o, d)| {
            for (o, &x) in o.iter_mut().zip(d) {
                *o = t[x as usize];
            }
        });
    Ok(out)
}

/// Reduces float32 values in place: `rint(x · L) / L`. Values outside [0, 1] are not clipped.
pub fn bit_depth_f32(data: &mut [f32], bits: i64) -> Result<()> {
    let l = levels(bits)? as f32;
    data.par_chunks_mut(CHUNK).for_each(|d| {
        for x in d {
            *x = (*x * l).round_ties_even() / l;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_float_formula() {
        for bits in 1..=8 {
            let t = table(bits).unwrap();
            let l = f64::from((1u32 << bits) - 1);
            for x in 0..=255u8 {
                let q = (f64::from(x) * l / 255.0).round();
                let expect = (q * 255.0 / l).round() as u8;
                assert_eq!(t[x as usize], expect, "bits {bits} x {x}");
            }
        }
        assert_eq!(table(8).unwrap().to_vec(), (0..=255).collect::<Vec<u8>>());
        assert_eq!(table(1).unwrap()[127], 0);
        assert_eq!(table(1).unwrap()[128], 255);
    }

    #[test]
    fn float_variant_rounds_half_to_even() {
        let mut v = [0.5f32, 0.0, 1.0, 0.26];
        bit_depth_f32(&mut v, 1).unwrap();
        assert_eq!(v, [0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn rejects_bad_bits() {
        assert!(bit_depth(&[1], 0).is_err());
        assert!(bit_depth(&[1], 9).is_err());
    }
}
