//! The organiser's L∞ projection on uint8 images: every value of `adv` is clipped into
//! `[max(0, clean − eps), min(255, clean + eps)]`, as the NIPS 2017 harness did in int32 before casting
//! back. Saturating u8 arithmetic gives the same box without widening, which keeps the loop
//! branch-free and lets the compiler vectorise it (16–64 lanes per instruction).

use rayon::prelude::*;

use crate::error::{KernelError, Result};

/// Values handled per rayon task: large enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 1 << 16;

#[inline]
fn clip_slice(adv: &mut [u8], clean: &[u8], eps: u8) {
    for (a, &c) in adv.iter_mut().zip(clean) {
        let lo = c.saturating_sub(eps);
        let hi = c.saturating_add(eps);
        *a = (*a).clamp(lo, hi);
    }
}

fn check(adv_len: usize, clean_len: usize, eps: i64) -> Result<u8> {
    if adv_len != clean_len {
        return Err(KernelError::Shape(format!(
            "adversarial and clean arrays differ in size ({adv_len} vs {clean_len} values)"
        )));
    }
    u8::try_from(eps)
        .map_err(|_| KernelError::Param(format!("eps must be an integer in 0..=255, got {eps}")))
}

/// Projects `adv` in place onto the ε-box around `clean`.
pub fn clip_linf_inplace(adv: &mut [u8], clean: &[u8], eps: i64) -> Result<()> {
    let eps = check(adv.len(), clean.len(), eps)?;
    adv.par_chunks_mut(CHUNK)
        .zip(clean.par_chunks(CHUNK))
        .for_each(|(a, c)| clip_slice(a, c, eps));
    Ok(())
}

/// Returns the projection of `adv` onto the ε-box around `clean`, leaving `adv` untouched.
pub fn clip_linf(adv: &[u8], clean: &[u8], eps: i64) -> Result<Vec<u8>> {
    let eps = check(adv.len(), clean.len(), eps)?;
    let mut out = vec![0u8; adv.len()];
    out.par_chunks_mut(CHUNK)
        .zip(adv.par_chunks(CHUNK).zip(clean.par_chunks(CHUNK)))
        .for_each(|(o, (a, c))| {
            for ((o, &a), &c) in o.iter_mut().zip(a).zip(c) {
                *o = a.clamp(c.saturating_sub(eps), c.saturating_add(eps));
            }
        });
    Ok(out)
}

/// Float variant for in-process attacks working in [0, 1]: clips into
/// `[max(lo, clean − eps), min(hi, clean + eps)]`. NaN in `adv` becomes the clean value, so a broken
/// gradient can never leak a NaN pixel past the projection.
pub fn clip_linf_f32(adv: &mut [f32], clean: &[f32], eps: f32, lo: f32, hi: f32) -> Result<()> {
    if adv.len() != clean.len() {
        return Err(KernelError::Shape(format!(
            "adversarial and clean arrays differ in size ({} vs {} values)",
            adv.len(),
            clean.len()
        )));
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(KernelError::Param(format!(
            "eps must be finite and >= 0, got {eps}"
        )));
    }
    if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
        return Err(KernelError::Param(format!(
            "bounds must satisfy lo <= hi, got [{lo}, {hi}]"
        )));
    }
    adv.par_chunks_mut(CHUNK)
        .zip(clean.par_chunks(CHUNK))
        .for_each(|(a, c)| {
            for (a, &c) in a.iter_mut().zip(c) {
                let lower = (c - eps).max(lo);
                let upper = (c + eps).min(hi);
                let v = if a.is_nan() { c } else { *a };
                *a = v.max(lower).min(upper);
            }
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_into_box_and_saturates() {
        let clean = [0u8, 10, 250, 128];
        let adv = [255u8, 0, 0, 128];
        let out = clip_linf(&adv, &clean, 8).unwrap();
        assert_eq!(out, vec![8, 2, 242, 128]);
    }

    #[test]
    fn inplace_equals_copying() {
        let clean: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let adv: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let copied = clip_linf(&adv, &clean, 12).unwrap();
        let mut inplace = adv.clone();
        clip_linf_inplace(&mut inplace, &clean, 12).unwrap();
        assert_eq!(copied, inplace);
    }

    #[test]
    fn rejects_bad_eps_and_shapes() {
        assert!(matches!(
            clip_linf(&[1], &[1], 256),
            Err(KernelError::Param(_))
        ));
        assert!(matches!(
            clip_linf(&[1], &[1], -1),
            Err(KernelError::Param(_))
        ));
        assert!(matches!(
            clip_linf(&[1, 2], &[1], 3),
            Err(KernelError::Shape(_))
        ));
    }

    #[test]
    fn float_variant_handles_nan_and_bounds() {
        let clean = [0.5f32, 0.0, 1.0];
        let mut adv = [f32::NAN, -1.0, 2.0];
        clip_linf_f32(&mut adv, &clean, 0.1, 0.0, 1.0).unwrap();
        assert_eq!(adv, [0.5, 0.0, 1.0]);
    }
}
