use advengine_kernels::parallel;
use pyo3::prelude::*;

/// Number of threads the kernels use (from `ADVENGINE_NUM_THREADS`, else the CPU count).
#[pyfunction]
fn num_threads() -> usize {
    parallel::current_threads()
}

/// Rebuilds the pool on next use, picking up a changed `ADVENGINE_NUM_THREADS`.
#[pyfunction]
fn reset_thread_pool() {
    parallel::reset();
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(reset_thread_pool, m)?)?;
    Ok(())
}
