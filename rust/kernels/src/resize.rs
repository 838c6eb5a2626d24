//! Batch resize through `fast_image_resize`, whose fixed-point convolution follows Pillow's
//! `Image.resize` (same filters, same support scaling when downscaling, same two-pass rounding).
//! Pillow is the reference because the original toolkit resized with it (bicubic for wrong-sized
//! attack outputs).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use rayon::prelude::*;

use crate::batch::Dims;
use crate::error::{KernelError, Result};

/// Largest output side accepted (the same limit as the PNG codec).
pub const MAX_SIDE: usize = 16_384;

/// Resampling filters, named as in Pillow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Nearest,
    Bilinear,
    /// Pillow's BICUBIC is the Keys cubic with a = −0.5, i.e. Catmull–Rom.
    Bicubic,
    /// Pillow's LANCZOS is Lanczos with 3 lobes.
    Lanczos,
}

impl Method {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "nearest" => Ok(Self::Nearest),
            "bilinear" => Ok(Self::Bilinear),
            "bicubic" => Ok(Self::Bicubic),
            "lanczos" => Ok(Self::Lanczos),
            other => Err(KernelError::Param(format!(
                "unknown resize method {other:?}; use nearest, bilinear, bicubic or lanczos"
            ))),
        }
    }

    fn alg(self) -> ResizeAlg {
        match self {
            Self::Nearest => ResizeAlg::Nearest,
            Self::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
            Self::Bicubic => ResizeAlg::Convolution(FilterType::CatmullRom),
            Self::Lanczos => ResizeAlg::Convolution(FilterType::Lanczos3),
        }
    }
}

fn pixel_type(c: usize) -> Result<PixelType> {
    match c {
        1 => Ok(PixelType::U8),
        2 => Ok(PixelType::U8x2),
        3 => Ok(PixelType::U8x3),
        4 => Ok(PixelType::U8x4),
        _ => Err(KernelError::Shape(format!(
            "resize takes 1 to 4 channels, got {c}"
        ))),
    }
}

fn side(v: usize) -> Result<u32> {
    if (1..=MAX_SIDE).contains(&v) {
        Ok(v as u32)
    } else {
        Err(KernelError::Param(format!(
            "output size must be in 1..={MAX_SIDE}, got {v}"
        )))
    }
}

/// Resizes every image of a uint8 NHWC batch to `out_h × out_w`.
pub fn resize(
    data: &[u8],
    dims: Dims,
    out_h: usize,
    out_w: usize,
    method: Method,
) -> Result<Vec<u8>> {
    dims.check(data.len())?;
    let (oh, ow) = (side(out_h)?, side(out_w)?);
    let pt = pixel_type(dims.c)?;
    let out_per = out_h * out_w * dims.c;
    let mut out = vec![0u8; dims.n * out_per];
    if dims.n == 0 {
        return Ok(out);
    }
    let (ih, iw) = (side(dims.h)?, side(dims.w)?);
    // Alpha premultiplication is Pillow's behaviour for RGBA too, but the kernels' images carry no
    // alpha: every channel is resized independently.
    let options = ResizeOptions::new()
        .resize_alg(method.alg())
        .use_alpha(false);
    let results: Vec<Result<()>> = out
        .par_chunks_mut(out_per)
        .zip(data.par_chunks(dims.per_image()))
        .map_init(Resizer::new, |resizer, (o, src)| {
            let err = |e: String| KernelError::Param(format!("resize failed: {e}"));
            let src = ImageRef::new(iw, ih, src, pt).map_err(|e| err(e.to_string()))?;
            let mut dst = Image::from_slice_u8(ow, oh, o, pt).map_err(|e| err(e.to_string()))?;
            resizer
                .resize(&src, &mut dst, &options)
                .map_err(|e| err(e.to_string()))
        })
        .collect();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_image_stays_constant() {
        let d = Dims::new(2, 13, 17, 3);
        let data = vec![77u8; d.n * d.per_image()];
        for m in [
            Method::Nearest,
            Method::Bilinear,
            Method::Bicubic,
            Method::Lanczos,
        ] {
            for (oh, ow) in [(5, 6), (30, 40), (13, 17)] {
                let out = resize(&data, d, oh, ow, m).unwrap();
                assert_eq!(out.len(), 2 * oh * ow * 3);
                assert!(out.iter().all(|&v| v == 77), "{m:?} {oh}x{ow}");
            }
        }
    }

    #[test]
    fn nearest_upscale_by_two_repeats_pixels() {
        let d = Dims::new(1, 1, 3, 1);
        let out = resize(&[1, 2, 3], d, 1, 6, Method::Nearest).unwrap();
        assert_eq!(out, vec![1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn rejects_bad_parameters() {
        let d = Dims::new(1, 2, 2, 3);
        assert!(resize(&[0; 12], d, 0, 4, Method::Bilinear).is_err());
        assert!(Method::parse("cubic").is_err());
        assert!(resize(&[0; 20], Dims::new(1, 2, 2, 5), 4, 4, Method::Nearest).is_err());
    }
}
