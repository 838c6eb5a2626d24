//! Batch PNG decode/encode into uint8 NHWC arrays.
//!
//! Decoding uses the `png` crate (pure Rust, fuzzed upstream); this module adds the batch layer:
//! parallel decode straight into one contiguous output buffer, uniform-size checks, the colour
//! conversions the competition needs, and atomic batch writes.

use std::fs;
use std::io::{Cursor, Write};
use std::path::Path;

use png::{BitDepth, ColorType, Transformations};
use rayon::prelude::*;

use crate::error::{KernelError, Result};

/// Largest side accepted, and the decoder's memory cap: both stop decompression bombs.
const MAX_SIDE: u32 = 16_384;
const MAX_DECODE_BYTES: usize = 1 << 30;

/// How non-RGB8 images are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    /// Only 8-bit RGB (colour type 2) is accepted; anything else is an error naming its mode.
    Strict,
    /// Converted as Pillow's `convert("RGB")` does for 8-bit images: grey is replicated, alpha is
    /// dropped, palettes are expanded. 16-bit samples keep their high byte.
    ToRgb,
}

fn mode_name(color: ColorType, depth: BitDepth) -> String {
    let c = match color {
        ColorType::Grayscale => "greyscale",
        ColorType::Rgb => "RGB",
        ColorType::Indexed => "palette",
        ColorType::GrayscaleAlpha => "greyscale+alpha",
        ColorType::Rgba => "RGBA",
    };
    format!("{}-bit {c}", depth as u8)
}

fn decoder(bytes: &[u8]) -> png::Decoder<Cursor<&[u8]>> {
    let limits = png::Limits {
        bytes: MAX_DECODE_BYTES,
    };
    png::Decoder::new_with_limits(Cursor::new(bytes), limits)
}

/// One line for a PNG the decoder rejects: the decoder's reason without its Rust debug formatting
/// (`ChunkType { type: IDAT, .. }` becomes `IDAT`), and what to do about it.
fn unreadable(e: png::DecodingError) -> String {
    let mut msg = e.to_string();
    while let Some(start) = msg.find("ChunkType { type: ") {
        let name_at = start + "ChunkType { type: ".len();
        let name: String = msg[name_at..].chars().take(4).collect();
        let end = msg[start..].find('}').map_or(msg.len(), |i| start + i + 1);
        msg.replace_range(start..end, &name);
    }
    let msg = msg.trim_end_matches('.');
    format!("not a readable PNG ({msg}); re-save the file as an 8-bit RGB PNG")
}

/// Reads width and height from a PNG header without decoding pixels.
pub fn png_size(bytes: &[u8]) -> std::result::Result<(u32, u32), String> {
    let reader = decoder(bytes).read_info().map_err(unreadable)?;
    let info = reader.info();
    Ok((info.height, info.width))
}

/// Decodes one PNG into `out` (exactly `h*w*3` bytes of RGB8).
fn decode_into(
    bytes: &[u8],
    mode: ColorMode,
    h: u32,
    w: u32,
    out: &mut [u8],
) -> std::result::Result<(), String> {
    let mut dec = decoder(bytes);
    if mode == ColorMode::ToRgb {
        dec.set_transformations(Transformations::EXPAND | Transformations::STRIP_16);
    }
    let mut reader = dec.read_info().map_err(unreadable)?;
    let (ih, iw) = (reader.info().height, reader.info().width);
    if ih > MAX_SIDE || iw > MAX_SIDE {
        return Err(format!(
            "{iw}x{ih} is larger than the {MAX_SIDE}-pixel limit"
        ));
    }
    if (ih, iw) != (h, w) {
        return Err(format!("size is {iw}x{ih}, expected {w}x{h}"));
    }
    let (color, depth) = reader.output_color_type();
    if mode == ColorMode::Strict && (color != ColorType::Rgb || depth != BitDepth::Eight) {
        let (c, d) = (reader.info().color_type, reader.info().bit_depth);
        return Err(format!(
            "mode is {}, expected 8-bit RGB; convert the file to RGB or decode with strict=False",
            mode_name(c, d)
        ));
    }
    if color == ColorType::Rgb && depth == BitDepth::Eight {
        reader.next_frame(out).map_err(unreadable)?;
        return Ok(());
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| "image is too large to decode".to_string())?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(unreadable)?;
    let buf = &buf[..frame.buffer_size()];
    let px = (h as usize) * (w as usize);
    match frame.color_type {
        ColorType::Grayscale => {
            for (o, &g) in out.chunks_exact_mut(3).zip(&buf[..px]) {
                o.fill(g);
            }
        }
        ColorType::GrayscaleAlpha => {
            for (o, ga) in out.chunks_exact_mut(3).zip(buf.chunks_exact(2)) {
                o.fill(ga[0]);
            }
        }
        ColorType::Rgba => {
            for (o, rgba) in out.chunks_exact_mut(3).zip(buf.chunks_exact(4)) {
                o.copy_from_slice(&rgba[..3]);
            }
        }
        ColorType::Rgb => out.copy_from_slice(&buf[..px * 3]),
        ColorType::Indexed => return Err("palette image was not expanded".to_string()),
    }
    Ok(())
}

/// Returns the first error by batch index, so messages do not depend on thread scheduling.
fn first_error(results: Vec<std::result::Result<(), KernelError>>) -> Result<()> {
    results.into_iter().find(|r| r.is_err()).unwrap_or(Ok(()))
}

fn batch_size(first: &[u8], expect: Option<(u32, u32)>) -> Result<(u32, u32)> {
    match expect {
        Some(hw) => Ok(hw),
        None => png_size(first).map_err(|msg| KernelError::Decode { index: 0, msg }),
    }
}

/// Decodes PNG byte strings into one `[n, h, w, 3]` buffer. Every image must have the size `expect`
/// (or, when `None`, the size of the first image).
pub fn decode_batch(
    blobs: &[&[u8]],
    mode: ColorMode,
    expect: Option<(u32, u32)>,
) -> Result<(Vec<u8>, u32, u32)> {
    let Some(first) = blobs.first() else {
        let (h, w) = expect.unwrap_or((0, 0));
        return Ok((Vec::new(), h, w));
    };
    let (h, w) = batch_size(first, expect)?;
    let per = (h as usize) * (w as usize) * 3;
    let mut out = vec![0u8; per * blobs.len()];
    let results: Vec<_> = out
        .par_chunks_mut(per.max(1))
        .zip(blobs.par_iter())
        .enumerate()
        .map(|(index, (o, b))| {
            decode_into(b, mode, h, w, o).map_err(|msg| KernelError::Decode { index, msg })
        })
        .collect();
    first_error(results)?;
    Ok((out, h, w))
}

/// Reads and decodes PNG files in parallel into one `[n, h, w, 3]` buffer.
pub fn read_batch<P: AsRef<Path> + Sync>(
    paths: &[P],
    mode: ColorMode,
    expect: Option<(u32, u32)>,
) -> Result<(Vec<u8>, u32, u32)> {
    let read = |p: &P| {
        fs::read(p.as_ref()).map_err(|e| KernelError::Io {
            path: p.as_ref().display().to_string(),
            msg: e.to_string(),
        })
    };
    let Some(first) = paths.first() else {
        let (h, w) = expect.unwrap_or((0, 0));
        return Ok((Vec::new(), h, w));
    };
    let (h, w) = match expect {
        Some(hw) => hw,
        None => {
            let bytes = read(first)?;
            png_size(&bytes).map_err(|msg| KernelError::Io {
                path: first.as_ref().display().to_string(),
                msg,
            })?
        }
    };
    let per = (h as usize) * (w as usize) * 3;
    let mut out = vec![0u8; per * paths.len()];
    let results: Vec<_> = out
        .par_chunks_mut(per.max(1))
        .zip(paths.par_iter())
        .map(|(o, p)| {
            let bytes = read(p)?;
            decode_into(&bytes, mode, h, w, o).map_err(|msg| KernelError::Io {
                path: p.as_ref().display().to_string(),
                msg,
            })
        })
        .collect();
    first_error(results)?;
    Ok((out, h, w))
}

fn check_batch(data: &[u8], n: usize, h: u32, w: u32) -> Result<usize> {
    let per = (h as usize) * (w as usize) * 3;
    if h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE {
        return Err(KernelError::Shape(format!(
            "image size {w}x{h} is outside 1..={MAX_SIDE}"
        )));
    }
    if data.len() != per * n {
        return Err(KernelError::Shape(format!(
            "buffer holds {} values, expected {n}x{h}x{w}x3 = {}",
            data.len(),
            per * n
        )));
    }
    Ok(per)
}

/// Encodes one RGB8 image. `fast` trades size for speed (intermediate files);
/// otherwise the encoder's balanced default is used, as for stored adversarial images.
pub fn encode_one(
    pixels: &[u8],
    h: u32,
    w: u32,
    fast: bool,
) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(pixels.len() / 2 + 1024);
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(ColorType::Rgb);
        enc.set_depth(BitDepth::Eight);
        enc.set_compression(if fast {
            png::Compression::Fastest
        } else {
            png::Compression::Balanced
        });
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(pixels).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(bytes)
}

/// Encodes a `[n, h, w, 3]` buffer into `n` PNG byte strings.
pub fn encode_batch(data: &[u8], n: usize, h: u32, w: u32, fast: bool) -> Result<Vec<Vec<u8>>> {
    let per = check_batch(data, n, h, w)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    data.par_chunks(per)
        .enumerate()
        .map(|(index, px)| {
            encode_one(px, h, w, fast).map_err(|msg| KernelError::Decode { index, msg })
        })
        .collect()
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed, then renamed
/// over the target, so a reader (or a resumed run) never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Encodes a `[n, h, w, 3]` buffer and writes image `i` to `paths[i]`, each atomically.
pub fn write_batch<P: AsRef<Path> + Sync>(
    data: &[u8],
    h: u32,
    w: u32,
    paths: &[P],
    fast: bool,
) -> Result<()> {
    let per = check_batch(data, paths.len(), h, w)?;
    if paths.is_empty() {
        return Ok(());
    }
    let results: Vec<_> = data
        .par_chunks(per)
        .zip(paths.par_iter())
        .map(|(px, p)| {
            let path = p.as_ref();
            let err = |msg: String| KernelError::Io {
                path: path.display().to_string(),
                msg,
            };
            let bytes = encode_one(px, h, w, fast).map_err(err)?;
            write_atomic(path, &bytes).map_err(|e| err(e.to_string()))
        })
        .collect();
    first_error(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(h: u32, w: u32, seed: u32) -> Vec<u8> {
        (0..h * w * 3)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
            .collect()
    }

    #[test]
    fn round_trip_batch() {
        let (h, w) = (7, 5);
        let data: Vec<u8> = [image(h, w, 1), image(h, w, 2), image(h, w, 3)].concat();
        let encoded = encode_batch(&data, 3, h, w, false).unwrap();
        let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let (decoded, dh, dw) = decode_batch(&refs, ColorMode::Strict, None).unwrap();
        assert_eq!((dh, dw), (h, w));
        assert_eq!(decoded, data);
    }

    #[test]
    fn size_mismatch_names_the_image() {
        let a = encode_one(&image(4, 4, 0), 4, 4, true).unwrap();
        let b = encode_one(&image(5, 4, 0), 5, 4, true).unwrap();
        let err = decode_batch(&[&a, &b], ColorMode::Strict, None).unwrap_err();
        assert_eq!(
            err,
            KernelError::Decode {
                index: 1,
                msg: "size is 4x5, expected 4x4".into()
            }
        );
    }

    #[test]
    fn truncated_bytes_are_an_error_not_a_panic() {
        let a = encode_one(&image(16, 16, 0), 16, 16, false).unwrap();
        // The 12-byte IEND trailer is not needed once the pixels are in, as with Pillow, so only cuts
        // into the header or the image data must fail.
        for cut in [0, 8, 20, 40, a.len() / 2, a.len() - 13] {
            assert!(
                decode_batch(&[&a[..cut]], ColorMode::ToRgb, Some((16, 16))).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bad_buffer_shape_is_rejected() {
        assert!(matches!(
            encode_batch(&[0u8; 10], 1, 2, 2, true),
            Err(KernelError::Shape(_))
        ));
    }
}
