//! `advengine._core`: the thin pyo3 layer over `advengine-kernels`.
//!
//! No numeric logic lives here. Each wrapper reads its Python inputs, releases the GIL, runs one pure
//! kernel inside the shared thread pool and maps the kernel's error into `advengine.errors`
//! (see `funnel.rs`).

use pyo3::prelude::*;

mod funnel;
mod py;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py::register(m)
}
