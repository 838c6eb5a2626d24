//! Pure Rust kernels of advengine.
//!
//! Nothing here knows about Python: every function takes plain slices and shapes and returns a
//! [`KernelError`] on bad input, so the kernels can be unit-tested and benchmarked with cargo alone.
//! The pyo3 wrappers in the `advengine-py` crate do the borrowing, GIL release and error mapping.
//!
//! Array contract: images are `uint8`, NHWC, C-contiguous, RGB.

pub mod batch;
pub mod bit_depth;
pub mod clip;
pub mod codec;
pub mod error;
pub mod jpeg;
pub mod median;
pub mod parallel;
pub mod resize;
pub mod resize_pad;
pub mod scoring;

pub use error::{KernelError, Result};
