//! The one error type of the kernels. Each variant maps to one class of the Python exception tree
//! (`advengine.errors`) in the binding crate, so the mapping lives in exactly one place.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// Arrays whose shapes do not fit together or do not fit the kernel.
    #[error("{0}")]
    Shape(String),
    /// A parameter outside its documented range.
    #[error("{0}")]
    Param(String),
    /// Bytes that are not a usable image. `index` is the position in the batch.
    #[error("image {index}: {msg}")]
    Decode { index: usize, msg: String },
    /// A file that could not be read or written.
    #[error("{path}: {msg}")]
    Io { path: String, msg: String },
}

pub type Result<T> = std::result::Result<T, KernelError>;
