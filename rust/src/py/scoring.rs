//! Score aggregation: predictions[attack, defense, image] → count matrices and scores.

use advengine_kernels::scoring::{self, Policy, Setup};
use advengine_kernels::KernelError;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::funnel;

/// Returns a dict of numpy arrays: the [attack, defense] matrices `correct`, `error`, `hit`,
/// `classified`, `missing`; per attack `produced`, `attacks_used`, `attack_raw`, `attack_score`,
/// `attack_worst`; per defense `defenses_used`, `defense_raw`, `defense_score`, `defense_worst`.
#[pyfunction]
fn score_matrix<'py>(
    py: Python<'py>,
    predictions: PyReadonlyArray3<'py, i64>,
    true_labels: PyReadonlyArray1<'py, i64>,
    target_classes: PyReadonlyArray1<'py, i64>,
    is_targeted: PyReadonlyArray1<'py, bool>,
    policy: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let shape = predictions.shape().to_vec();
    let (na, nd, n) = (shape[0], shape[1], shape[2]);
    let mismatch = if is_targeted.len() != na {
        Some(format!(
            "predictions have {na} attacks but is_targeted has {} entries",
            is_targeted.len()
        ))
    } else if true_labels.len() != n {
        Some(format!(
            "predictions have {n} images but true_labels has {} entries",
            true_labels.len()
        ))
    } else {
        None
    };
    if let Some(msg) = mismatch {
        return Err(funnel::to_pyerr(py, &KernelError::Shape(msg)));
    }
    let preds = predictions.as_slice()?;
    let setup = Setup {
        true_labels: true_labels.as_slice()?,
        target_classes: target_classes.as_slice()?,
        is_targeted: is_targeted.as_slice()?,
        n_defenses: nd,
    };
    let s = funnel::run(py, || scoring::score(preds, &setup, Policy::parse(policy)?))?;
    let out = PyDict::new(py);
    let matrix = |v: Vec<i64>| {
        Array2::from_shape_vec((na, nd), v)
            .map(|a| a.into_pyarray(py))
            .map_err(|e| funnel::raise(py, "InternalError", e.to_string()))
    };
    out.set_item("correct", matrix(s.correct)?)?;
    out.set_item("error", matrix(s.error)?)?;
    out.set_item("hit", matrix(s.hit)?)?;
    out.set_item("classified", matrix(s.classified)?)?;
    out.set_item("missing", matrix(s.missing)?)?;
    out.set_item("produced", s.produced.into_pyarray(py))?;
    out.set_item("attacks_used", s.attacks_used.into_pyarray(py))?;
    out.set_item("defenses_used", s.defenses_used.into_pyarray(py))?;
    out.set_item("defense_raw", s.defense_raw.into_pyarray(py))?;
    out.set_item("defense_score", s.defense_score.into_pyarray(py))?;
    out.set_item("defense_worst", s.defense_worst.into_pyarray(py))?;
    out.set_item("attack_raw", s.attack_raw.into_pyarray(py))?;
    out.set_item("attack_score", s.attack_score.into_pyarray(py))?;
    out.set_item("attack_worst", s.attack_worst.into_pyarray(py))?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(score_matrix, m)?)?;
    Ok(())
}
