//! Image-to-image kernels: median filter, resize, random resize + pad, bit depth, JPEG round trip.

use advengine_kernels::batch::Dims;
use advengine_kernels::{bit_depth, jpeg, median, resize, resize_pad};
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray2, PyArray4, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray4, PyReadonlyArrayDyn, PyReadwriteArrayDyn, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use super::arrays::{dims, to_array4};
use crate::funnel;

/// `size × size` median filter of a uint8 [n, h, w, c] batch (scipy.ndimage semantics).
#[pyfunction]
fn median_filter_u8<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    size: usize,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let d = dims(images.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let data = images.as_slice()?;
    let out = funnel::run(py, || median::median_filter(data, d, size))?;
    to_array4(py, out, d)
}

/// Resizes a uint8 [n, h, w, c] batch to (height, width) with a Pillow filter name.
#[pyfunction]
fn resize_u8<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    height: usize,
    width: usize,
    method: &str,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let d = dims(images.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let data = images.as_slice()?;
    let out = funnel::run(py, || {
        resize::resize(data, d, height, width, resize::Method::parse(method)?)
    })?;
    to_array4(py, out, Dims::new(d.n, height, width, d.c))
}

/// Resizes a float32 [n, h, w, c] batch (Pillow mode "F" arithmetic, no clipping).
#[pyfunction]
fn resize_f32<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, f32>,
    height: usize,
    width: usize,
    method: &str,
) -> PyResult<Bound<'py, PyArray4<f32>>> {
    let d = dims(images.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let data = images.as_slice()?;
    let out = funnel::run(py, || {
        resize::resize_f32(data, d, height, width, resize::Method::parse(method)?)
    })?;
    to_array4(py, out, Dims::new(d.n, height, width, d.c))
}

fn params_array(
    py: Python<'_>,
    params: Vec<resize_pad::Params>,
) -> PyResult<Bound<'_, PyArray2<i64>>> {
    let n = params.len();
    let flat: Vec<i64> = params.into_iter().flatten().collect();
    let arr = Array2::from_shape_vec((n, 3), flat)
        .map_err(|e| funnel::raise(py, "InternalError", e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

/// Random nearest resize to rnd × rnd (rnd in [min_size, max_size]) then pad to out_size, one draw
/// per image from `seeds`. Returns (images, params[n, 3] = (rnd, top, left)).
#[pyfunction]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn random_resize_pad_u8<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    out_size: usize,
    min_size: usize,
    max_size: usize,
    seeds: PyReadonlyArray1<'py, u64>,
    pad_value: u8,
) -> PyResult<(Bound<'py, PyArray4<u8>>, Bound<'py, PyArray2<i64>>)> {
    let d = dims(images.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let (data, seeds) = (images.as_slice()?, seeds.as_slice()?);
    let (out, params) = funnel::run(py, || {
        resize_pad::random_resize_pad(data, d, out_size, min_size, max_size, seeds, pad_value)
    })?;
    let imgs = to_array4(py, out, Dims::new(d.n, out_size, out_size, d.c))?;
    Ok((imgs, params_array(py, params)?))
}

/// Nearest resize + pad with explicit params[n, 3] = (rnd, top, left).
#[pyfunction]
fn resize_pad_u8<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    out_size: usize,
    params: PyReadonlyArray2<'py, i64>,
    pad_value: u8,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let d = dims(images.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    if params.shape()[1] != 3 {
        let e = advengine_kernels::KernelError::Shape(format!(
            "params must have shape [n, 3] (rnd, top, left), got {:?}",
            params.shape()
        ));
        return Err(funnel::to_pyerr(py, &e));
    }
    let data = images.as_slice()?;
    let rows: Vec<resize_pad::Params> = params
        .as_slice()?
        .chunks_exact(3)
        .map(|r| [r[0], r[1], r[2]])
        .collect();
    let out = funnel::run(py, || {
        resize_pad::resize_pad(data, d, out_size, &rows, pad_value)
    })?;
    to_array4(py, out, Dims::new(d.n, out_size, out_size, d.c))
}

/// Reduces uint8 values (any shape) to `bits` bits per value.
#[pyfunction]
fn bit_depth_u8<'py>(
    py: Python<'py>,
    images: PyReadonlyArrayDyn<'py, u8>,
    bits: i64,
) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
    let shape = images.shape().to_vec();
    let data = images.as_slice()?;
    let out = funnel::run(py, || bit_depth::bit_depth(data, bits))?;
    let arr = numpy::ndarray::ArrayD::from_shape_vec(shape, out)
        .map_err(|e| funnel::raise(py, "InternalError", e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

/// Reduces float32 values in [0, 1] in place to `bits` bits: rint(x·L)/L.
#[pyfunction]
fn bit_depth_f32_inplace<'py>(
    py: Python<'py>,
    mut images: PyReadwriteArrayDyn<'py, f32>,
    bits: i64,
) -> PyResult<()> {
    let data = images.as_slice_mut()?;
    funnel::run(py, || bit_depth::bit_depth_f32(data, bits))
}

/// JPEG encode + decode of every RGB image of a uint8 [n, h, w, 3] batch at `quality`.
#[pyfunction]
fn jpeg_roundtrip_u8<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    quality: i64,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let d = dims(images.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let data = images.as_slice()?;
    let out = funnel::run(py, || jpeg::jpeg_roundtrip(data, d, quality))?;
    to_array4(py, out, d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(median_filter_u8, m)?)?;
    m.add_function(wrap_pyfunction!(resize_u8, m)?)?;
    m.add_function(wrap_pyfunction!(resize_f32, m)?)?;
    m.add_function(wrap_pyfunction!(random_resize_pad_u8, m)?)?;
    m.add_function(wrap_pyfunction!(resize_pad_u8, m)?)?;
    m.add_function(wrap_pyfunction!(bit_depth_u8, m)?)?;
    m.add_function(wrap_pyfunction!(bit_depth_f32_inplace, m)?)?;
    m.add_function(wrap_pyfunction!(jpeg_roundtrip_u8, m)?)?;
    Ok(())
}
