//! Shape checks shared by the image kernels: a batch is `n` images of `h × w × c` interleaved bytes.

use crate::error::{KernelError, Result};

/// Dimensions of an NHWC batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Dims {
    pub const fn new(n: usize, h: usize, w: usize, c: usize) -> Self {
        Self { n, h, w, c }
    }

    /// Values in one image.
    pub const fn per_image(&self) -> usize {
        self.h * self.w * self.c
    }

    /// Values in one image row.
    pub const fn row(&self) -> usize {
        self.w * self.c
    }

    /// Checks that `len` values fill the batch exactly and that images are not empty.
    pub fn check(&self, len: usize) -> Result<()> {
        let total = self
            .n
            .checked_mul(self.per_image())
            .ok_or_else(|| KernelError::Shape(format!("batch {self:?} is too large")))?;
        if len != total {
            return Err(KernelError::Shape(format!(
                "buffer holds {len} values, expected {}x{}x{}x{} = {total}",
                self.n, self.h, self.w, self.c
            )));
        }
        if self.n > 0 && (self.h == 0 || self.w == 0 || self.c == 0) {
            return Err(KernelError::Shape(format!(
                "images must not be empty, got height {}, width {}, channels {}",
                self.h, self.w, self.c
            )));
        }
        Ok(())
    }
}

/// scipy.ndimage's mode 'reflect' (half-sample symmetric, `d c b a | a b c d | d c b a`): maps any
/// index onto `0..n`. The period is `2n`, so windows wider than the image still resolve.
#[inline]
pub fn reflect(i: isize, n: usize) -> usize {
    let period = 2 * n as isize;
    let m = i.rem_euclid(period) as usize;
    if m >= n {
        2 * n - 1 - m
    } else {
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_repeats_the_edge_pixel() {
        let got: Vec<usize> = (-4..8).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
        assert_eq!(reflect(-3, 1), 0);
        assert_eq!(reflect(5, 1), 0);
    }

    #[test]
    fn check_rejects_wrong_lengths_and_empty_images() {
        assert!(Dims::new(2, 3, 4, 3).check(72).is_ok());
        assert!(Dims::new(2, 3, 4, 3).check(71).is_err());
        assert!(Dims::new(1, 0, 4, 3).check(0).is_err());
        assert!(Dims::new(0, 0, 0, 3).check(0).is_ok());
    }
}
