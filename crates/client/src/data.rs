//! Where a client's local examples come from.

use std::sync::Arc;

use starling_data::{Dataset, Split};
use starling_proto::DataAssignment;

use crate::session::ClientError;

/// A client's local data.
#[derive(Clone, Debug)]
pub enum DataSource {
    /// The client brings its own examples.
    Own(Arc<Dataset>),
    /// The client takes the partition the server assigns of the embedded
    /// digits, split with the seed carried in the assignment.
    Embedded,
    /// The client takes the partition the server assigns of this split's
    /// training part (an IDX folder that the server loads too).
    Split(Arc<Split>),
}

impl DataSource {
    /// True when the client must ask the server for a partition.
    pub fn wants_assignment(&self) -> bool {
        !matches!(self, Self::Own(_))
    }

    /// Examples known before registration (0 until a partition is assigned).
    pub fn known_examples(&self) -> u64 {
        match self {
            Self::Own(data) => data.len() as u64,
            Self::Embedded | Self::Split(_) => 0,
        }
    }

    /// Resolves the local dataset, using `assignment` when the data is
    /// server-assigned.
    pub fn resolve(
        &self,
        assignment: Option<&DataAssignment>,
    ) -> Result<Arc<Dataset>, ClientError> {
        let assignment = match (self, assignment) {
            (Self::Own(data), _) => return Ok(Arc::clone(data)),
            (_, None) => return Err(ClientError::NoAssignment),
            (_, Some(assignment)) => assignment,
        };
        let part = match self {
            Self::Split(split) => starling_data::assigned_partition(&split.train, assignment)?,
            _ => {
                let split = starling_data::embedded_split(assignment.seed)?;
                starling_data::assigned_partition(&split.train, assignment)?
            }
        };
        Ok(Arc::new(part))
    }
}
