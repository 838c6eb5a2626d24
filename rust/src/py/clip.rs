use advengine_kernels::{clip, KernelError};
use numpy::{
    IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyReadwriteArrayDyn, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::funnel;

fn same_shape(a: &[usize], b: &[usize]) -> Result<(), KernelError> {
    if a == b {
        Ok(())
    } else {
        Err(KernelError::Shape(format!(
            "adversarial shape {a:?} differs from clean shape {b:?}"
        )))
    }
}

/// Copying uint8 projection; both arrays must be C-contiguous with equal shapes.
#[pyfunction]
fn clip_linf_u8<'py>(
    py: Python<'py>,
    adv: PyReadonlyArrayDyn<'py, u8>,
    clean: PyReadonlyArrayDyn<'py, u8>,
    eps: i64,
) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
    let shape = adv.shape().to_vec();
    same_shape(&shape, clean.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let (a, c) = (adv.as_slice()?, clean.as_slice()?);
    let out = funnel::run(py, || clip::clip_linf(a, c, eps))?;
    let arr = numpy::ndarray::ArrayD::from_shape_vec(shape, out)
        .map_err(|e| funnel::raise(py, "InternalError", e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

/// In-place uint8 projection of `adv`.
#[pyfunction]
fn clip_linf_u8_inplace<'py>(
    py: Python<'py>,
    mut adv: PyReadwriteArrayDyn<'py, u8>,
    clean: PyReadonlyArrayDyn<'py, u8>,
    eps: i64,
) -> PyResult<()> {
    same_shape(adv.shape(), clean.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let c = clean.as_slice()?;
    let a = adv.as_slice_mut()?;
    funnel::run(py, || clip::clip_linf_inplace(a, c, eps))
}

/// In-place float32 projection of `adv` into the ε-box around `clean` intersected with [lo, hi].
#[pyfunction]
fn clip_linf_f32_inplace<'py>(
    py: Python<'py>,
    mut adv: PyReadwriteArrayDyn<'py, f32>,
    clean: PyReadonlyArrayDyn<'py, f32>,
    eps: f32,
    lo: f32,
    hi: f32,
) -> PyResult<()> {
    same_shape(adv.shape(), clean.shape()).map_err(|e| funnel::to_pyerr(py, &e))?;
    let c = clean.as_slice()?;
    let a = adv.as_slice_mut()?;
    funnel::run(py, || clip::clip_linf_f32(a, c, eps, lo, hi))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(clip_linf_u8, m)?)?;
    m.add_function(wrap_pyfunction!(clip_linf_u8_inplace, m)?)?;
    m.add_function(wrap_pyfunction!(clip_linf_f32_inplace, m)?)?;
    Ok(())
}
