//! Conversions shared by the wrappers: NHWC shapes in, owned buffers out.

use advengine_kernels::batch::Dims;
use advengine_kernels::KernelError;
use numpy::{IntoPyArray, PyArray4};
use pyo3::prelude::*;

use crate::funnel;

/// The dimensions of an `[n, h, w, c]` array.
pub fn dims(shape: &[usize]) -> Result<Dims, KernelError> {
    match *shape {
        [n, h, w, c] => Ok(Dims::new(n, h, w, c)),
        _ => Err(KernelError::Shape(format!(
            "expected an image batch of shape [n, h, w, c], got {shape:?}"
        ))),
    }
}

/// Wraps a kernel's output buffer as an `[n, h, w, c]` numpy array without copying.
pub fn to_array4<T: numpy::Element>(
    py: Python<'_>,
    data: Vec<T>,
    d: Dims,
) -> PyResult<Bound<'_, PyArray4<T>>> {
    let arr = numpy::ndarray::Array4::from_shape_vec((d.n, d.h, d.w, d.c), data)
        .map_err(|e| funnel::raise(py, "InternalError", e.to_string()))?;
    Ok(arr.into_pyarray(py))
}
