//! Thin `#[pyfunction]` wrappers, one file per kernel module of `advengine-kernels`.

use pyo3::prelude::*;

mod clip;
mod codec;
mod parallel;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    clip::register(m)?;
    codec::register(m)?;
    parallel::register(m)?;
    Ok(())
}
