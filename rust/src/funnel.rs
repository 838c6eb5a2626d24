//! The one path every kernel call takes: GIL released, shared rayon pool, panics caught, errors
//! mapped into the Python exception tree defined in `advengine/errors.py`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use advengine_kernels::{parallel, KernelError};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Runs `f` without the GIL inside the advengine thread pool. A panic becomes `InternalError`.
pub fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, KernelError> + Send,
{
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(|| parallel::install(f))));
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_pyerr(py, &e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(raise(
                py,
                "InternalError",
                format!("internal error in a Rust kernel: {msg}"),
            ))
        }
    }
}

/// The exception class of `advengine.errors` that a kernel error maps to.
fn class_name(e: &KernelError) -> &'static str {
    match e {
        KernelError::Shape(_) => "ShapeError",
        KernelError::Param(_) => "ParameterError",
        KernelError::Decode { .. } => "ImageDecodeError",
        KernelError::Io { .. } => "ImageFileError",
    }
}

pub fn to_pyerr(py: Python<'_>, e: &KernelError) -> PyErr {
    raise(py, class_name(e), e.to_string())
}

/// Builds an instance of `advengine.errors.<name>`; falls back to ValueError if the Python package
/// is not importable (the extension used on its own).
pub fn raise(py: Python<'_>, name: &str, msg: String) -> PyErr {
    let cls = py
        .import("advengine.errors")
        .and_then(|m| m.getattr(name))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match cls {
        Ok(cls) => PyErr::from_type(cls, msg),
        Err(_) => PyValueError::new_err(msg),
    }
}
