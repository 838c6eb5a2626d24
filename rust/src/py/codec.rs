use advengine_kernels::codec::{self, ColorMode};
use advengine_kernels::KernelError;
use numpy::{IntoPyArray, PyArray4, PyReadonlyArray4, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::funnel;

fn mode(strict: bool) -> ColorMode {
    if strict {
        ColorMode::Strict
    } else {
        ColorMode::ToRgb
    }
}

fn to_array<'py>(
    py: Python<'py>,
    data: Vec<u8>,
    n: usize,
    h: u32,
    w: u32,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let arr = numpy::ndarray::Array4::from_shape_vec((n, h as usize, w as usize, 3), data)
        .map_err(|e| funnel::raise(py, "InternalError", e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

fn dims(shape: &[usize]) -> Result<(usize, u32, u32), KernelError> {
    if shape.len() != 4 || shape[3] != 3 {
        return Err(KernelError::Shape(format!(
            "expected a uint8 array of shape [n, h, w, 3], got {shape:?}"
        )));
    }
    let side = |v: usize| {
        u32::try_from(v).map_err(|_| KernelError::Shape(format!("image side {v} is too large")))
    };
    Ok((shape[0], side(shape[1])?, side(shape[2])?))
}

/// Decodes PNG byte strings into a uint8 [n, h, w, 3] array.
#[pyfunction]
#[pyo3(signature = (blobs, strict = true, size = None))]
fn decode_png_batch<'py>(
    py: Python<'py>,
    blobs: Vec<Vec<u8>>,
    strict: bool,
    size: Option<(u32, u32)>,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let n = blobs.len();
    let (data, h, w) = funnel::run(py, || {
        let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        codec::decode_batch(&refs, mode(strict), size)
    })?;
    to_array(py, data, n, h, w)
}

/// Reads PNG files in parallel into a uint8 [n, h, w, 3] array.
#[pyfunction]
#[pyo3(signature = (paths, strict = true, size = None))]
fn read_png_batch<'py>(
    py: Python<'py>,
    paths: Vec<std::path::PathBuf>,
    strict: bool,
    size: Option<(u32, u32)>,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let n = paths.len();
    let (data, h, w) = funnel::run(py, || codec::read_batch(&paths, mode(strict), size))?;
    to_array(py, data, n, h, w)
}

/// Encodes a uint8 [n, h, w, 3] array into PNG byte strings.
#[pyfunction]
#[pyo3(signature = (images, fast = false))]
fn encode_png_batch<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    fast: bool,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let (n, h, w) = dims(images.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let data = images.as_slice()?;
    let blobs = funnel::run(py, || codec::encode_batch(data, n, h, w, fast))?;
    Ok(blobs.iter().map(|b| PyBytes::new(py, b)).collect())
}

/// Encodes a uint8 [n, h, w, 3] array and writes image i to paths[i], each file atomically.
#[pyfunction]
#[pyo3(signature = (images, paths, fast = false))]
fn write_png_batch<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    paths: Vec<std::path::PathBuf>,
    fast: bool,
) -> PyResult<()> {
    let (n, h, w) = dims(images.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    if n != paths.len() {
        let e = KernelError::Shape(format!("{n} images but {} paths", paths.len()));
        return Err(funnel::to_pyerr(py, &e));
    }
    let data = images.as_slice()?;
    funnel::run(py, || codec::write_batch(data, h, w, &paths, fast))
}

/// (height, width) of a PNG from its header.
#[pyfunction]
fn png_size(py: Python<'_>, blob: Vec<u8>) -> PyResult<(u32, u32)> {
    funnel::run(py, || {
        codec::png_size(&blob).map_err(|msg| KernelError::Decode { index: 0, msg })
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(decode_png_batch, m)?)?;
    m.add_function(wrap_pyfunction!(read_png_batch, m)?)?;
    m.add_function(wrap_pyfunction!(encode_png_batch, m)?)?;
    m.add_function(wrap_pyfunction!(write_png_batch, m)?)?;
    m.add_function(wrap_pyfunction!(png_size, m)?)?;
    Ok(())
}
