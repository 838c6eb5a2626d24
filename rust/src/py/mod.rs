//! Thin `#[pyfunction]` wrappers, one file per kernel module of `advengine-kernels`.

use pyo3::prelude::*;

mod arrays;
mod clip;
mod codec;
mod filters;
mod parallel;
mod scoring;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    clip::register(m)?;
    codec::register(m)?;
    filters::register(m)?;
    parallel::register(m)?;
    scoring::register(m)?;
    Ok(())
}
