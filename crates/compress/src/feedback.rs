//! Error feedback: a client keeps what compression dropped and adds it to
//! its next update, so that nothing is lost for good, only delayed
//! (Stich et al. 2018; Karimireddy et al. 2019).

use crate::CompressError;

/// The residual a client carries from one round to the next.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorFeedback {
    residual: Vec<f32>,
}

impl ErrorFeedback {
    /// Creates a zero residual for updates of `len` values.
    pub fn new(len: usize) -> Self {
        Self {
            residual: vec![0.0; len],
        }
    }

    /// Returns the part of past updates that compression dropped and that
    /// is not sent yet.
    pub fn residual(&self) -> &[f32] {
        &self.residual
    }

    /// Returns `update` plus the residual: the vector to compress.
    pub fn compensate(&self, update: &[f32]) -> Result<Vec<f32>, CompressError> {
        self.check_len(update.len())?;
        Ok(update
            .iter()
            .zip(&self.residual)
            .map(|(value, residual)| value + residual)
            .collect())
    }

    /// Records what was sent of the compensated vector: the residual
    /// becomes `compensated - sent`.
    pub fn record(&mut self, compensated: &[f32], sent: &[f32]) -> Result<(), CompressError> {
        self.check_len(compensated.len())?;
        self.check_len(sent.len())?;
        for ((residual, value), sent) in self.residual.iter_mut().zip(compensated).zip(sent) {
            *residual = value - sent;
        }
        Ok(())
    }

    fn check_len(&self, actual: usize) -> Result<(), CompressError> {
        if actual == self.residual.len() {
            Ok(())
        } else {
            Err(CompressError::LengthMismatch {
                expected: self.residual.len(),
                actual,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top_k;

    /// One round of top-k with error feedback; returns what was sent.
    fn send_top_k(feedback: &mut ErrorFeedback, update: &[f32], k: usize) -> Vec<f32> {
        let compensated = feedback.compensate(update).unwrap();
        let sent = top_k(&compensated, k).unwrap().to_dense();
        feedback.record(&compensated, &sent).unwrap();
        sent
    }

    #[test]
    fn top_one_sends_the_dropped_part_later() {
        let mut feedback = ErrorFeedback::new(2);
        assert_eq!(send_top_k(&mut feedback, &[3.0, 1.0], 1), [3.0, 0.0]);
        assert_eq!(feedback.residual(), [0.0, 1.0]);
        assert_eq!(send_top_k(&mut feedback, &[0.0, 1.0], 1), [0.0, 2.0]);
        assert_eq!(feedback.residual(), [0.0, 0.0]);
    }

    #[test]
    fn k_zero_keeps_the_whole_update() {
        let mut feedback = ErrorFeedback::new(3);
        assert_eq!(send_top_k(&mut feedback, &[1.0, -2.0, 0.5], 0), [0.0; 3]);
        assert_eq!(feedback.residual(), [1.0, -2.0, 0.5]);
    }

    #[test]
    fn k_at_least_n_sends_everything() {
        let mut feedback = ErrorFeedback::new(2);
        assert_eq!(send_top_k(&mut feedback, &[1.5, -2.5], 2), [1.5, -2.5]);
        assert_eq!(feedback.residual(), [0.0, 0.0]);
    }

    #[test]
    fn wrong_length_is_rejected() {
        let mut feedback = ErrorFeedback::new(2);
        assert_eq!(
            feedback.compensate(&[1.0]),
            Err(CompressError::LengthMismatch {
                expected: 2,
                actual: 1
            })
        );
        assert!(feedback.record(&[1.0, 2.0], &[1.0]).is_err());
    }
}
