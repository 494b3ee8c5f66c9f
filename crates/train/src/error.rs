//! The error type shared by training, evaluation and parameter loading.

use starling_proto::ParamError;

/// Error from local training, evaluation or a parameter conversion.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The parameters do not have the layout of the requested model.
    #[error("parameters do not fit the model: {0}")]
    Layout(#[from] ParamError),
    /// The images do not have the size the models take.
    #[error("images are {rows}x{cols} pixels but the models take {expected_rows}x{expected_cols}")]
    ImageSize {
        /// Image height in the data set.
        rows: usize,
        /// Image width in the data set.
        cols: usize,
        /// Height the models take.
        expected_rows: usize,
        /// Width the models take.
        expected_cols: usize,
    },
    /// A training hyper-parameter is out of range.
    #[error("invalid training config: {0}")]
    InvalidConfig(String),
    /// The training loss became NaN or infinite.
    #[error("training diverged: mean loss in epoch {epoch} is {loss}. Lower the learning rate.")]
    Diverged {
        /// Epoch (starting at 1) whose mean loss was not finite.
        epoch: u32,
        /// The non-finite mean loss.
        loss: f64,
    },
    /// The tensor backend could not return a result to the host.
    #[error("tensor backend failed to read back the {item}: {message}")]
    Backend {
        /// The value being read, for example `training loss`.
        item: &'static str,
        /// The backend's error text.
        message: String,
    },
}

impl TrainError {
    /// Wraps a backend read-back error.
    pub(crate) fn backend(item: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Backend {
            item,
            message: error.to_string(),
        }
    }
}
