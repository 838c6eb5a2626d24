//! JPEG round trip (the compression defense): encode each image at quality `q`, decode it back.
//!
//! Encoder `jpeg-encoder` with Pillow's defaults (libjpeg's standard quantisation tables scaled by
//! quality, 4:2:0 chroma subsampling at every quality, box-averaged chroma like libjpeg's
//! `h2v2_downsample`); decoder `zune-jpeg`. Both are pure Rust. The result is close to, not equal to,
//! Pillow's round trip: DCT and upsampling implementations differ by a few levels on some pixels.

use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, SamplingFactor};
use rayon::prelude::*;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::batch::Dims;
use crate::error::{KernelError, Result};

/// Encodes one RGB8 image as a baseline JPEG.
pub fn encode_one(
    pixels: &[u8],
    h: usize,
    w: usize,
    quality: u8,
) -> std::result::Result<Vec<u8>, String> {
    let (h16, w16) = (u16::try_from(h), u16::try_from(w));
    let (Ok(h16), Ok(w16)) = (h16, w16) else {
        return Err(format!("{w}x{h} is larger than JPEG's 65535-pixel limit"));
    };
    let mut bytes = Vec::with_capacity(pixels.len() / 4 + 1024);
    let mut enc = Encoder::new(&mut bytes, quality);
    enc.set_sampling_factor(SamplingFactor::F_2_2);
    enc.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
    enc.encode(pixels, w16, h16, ColorType::Rgb)
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Decodes one JPEG into `out` (exactly `h·w·3` bytes of RGB8).
pub fn decode_into(
    bytes: &[u8],
    h: usize,
    w: usize,
    out: &mut [u8],
) -> std::result::Result<(), String> {
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    dec.decode_headers().map_err(|e| e.to_string())?;
    let (dw, dh) = dec.dimensions().ok_or("no dimensions in the JPEG header")?;
    if (dh, dw) != (h, w) {
        return Err(format!("decoded size {dw}x{dh}, expected {w}x{h}"));
    }
    dec.decode_into(out).map_err(|e| e.to_string())
}

/// JPEG-compresses and decompresses every RGB image of a uint8 NHWC batch at `quality` (1..=100).
pub fn jpeg_roundtrip(data: &[u8], dims: Dims, quality: i64) -> Result<Vec<u8>> {
    dims.check(data.len())?;
    let q = u8::try_from(quality)
        .ok()
        .filter(|q| (1..=100).contains(q))
        .ok_or_else(|| {
            KernelError::Param(format!("JPEG quality must be in 1..=100, got {quality}"))
        })?;
    if dims.c != 3 {
        return Err(KernelError::Shape(format!(
            "JPEG round trip takes RGB images (3 channels), got {}",
            dims.c
        )));
    }
    let mut out = vec![0u8; data.len()];
    if data.is_empty() {
        return Ok(out);
    }
    let results: Vec<Result<()>> = out
        .par_chunks_mut(dims.per_image())
        .zip(data.par_chunks(dims.per_image()))
        .enumerate()
        .map(|(index, (o, src))| {
            let bytes = encode_one(src, dims.h, dims.w, q)
                .map_err(|msg| KernelError::Param(format!("image {index}: JPEG encode: {msg}")))?;
            decode_into(&bytes, dims.h, dims.w, o).map_err(|msg| KernelError::Decode { index, msg })
        })
        .collect();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_image_survives_high_quality() {
        let d = Dims::new(2, 32, 48, 3);
        let data: Vec<u8> = (0..d.n * d.per_image())
            .map(|i| ((i / 3) % 48 * 4 + (i % 3) * 10) as u8)
            .collect();
        let out = jpeg_roundtrip(&data, d, 95).unwrap();
        let mean = data
            .iter()
            .zip(&out)
            .map(|(&a, &b)| f64::from(a.abs_diff(b)))
            .sum::<f64>()
            / data.len() as f64;
        assert!(mean < 3.0, "mean abs diff {mean}");
        assert_ne!(out, vec![0u8; out.len()]);
    }

    #[test]
    fn lower_quality_loses_more() {
        let d = Dims::new(1, 40, 40, 3);
        let data: Vec<u8> = (0..d.per_image())
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let err = |q| {
            let out = jpeg_roundtrip(&data, d, q).unwrap();
            data.iter()
                .zip(&out)
                .map(|(&a, &b)| u64::from(a.abs_diff(b)))
                .sum::<u64>()
        };
        assert!(err(10) > err(90));
    }

    #[test]
    fn rejects_bad_quality_and_channels() {
        let d = Dims::new(1, 2, 2, 3);
        assert!(jpeg_roundtrip(&[0; 12], d, 0).is_err());
        assert!(jpeg_roundtrip(&[0; 12], d, 101).is_err());
        assert!(jpeg_roundtrip(&[0; 4], Dims::new(1, 2, 2, 1), 50).is_err());
    }
}
