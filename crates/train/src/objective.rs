//! Extra terms of the local loss that non-IID strategies ask for: the
//! FedProx proximal term and the SCAFFOLD drift correction.
//!
//! Both are added to the cross-entropy as differentiable terms, so they
//! reach every parameter through the same backward pass, momentum and
//! weight decay as the data loss:
//!
//! - proximal: `(μ / 2) * ||w - w_global||^2`, whose gradient is
//!   `μ * (w - w_global)` (Li et al. 2020);
//! - correction: `<w, c - c_i>`, whose gradient is the constant `c - c_i`
//!   that SCAFFOLD adds to every local step (Karimireddy et al. 2020).
//!
//! With μ = 0 and no correction nothing is added, and local training is
//! exactly FedAvg's.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use starling_proto::ParamSet;

use crate::error::TrainError;

/// Terms added to a client's local loss in one round.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalTerms {
    /// FedProx μ; 0 adds no proximal term.
    pub proximal_mu: f64,
    /// SCAFFOLD correction `c - c_i`, flattened in the model's layout.
    pub correction: Option<Vec<f32>>,
}

impl LocalTerms {
    /// True when neither term is active, so training is plain local SGD.
    pub fn is_empty(&self) -> bool {
        self.proximal_mu == 0.0 && self.correction.is_none()
    }

    /// Checks μ and the length and values of the correction against a
    /// model of `len` parameters.
    pub fn check(&self, len: usize) -> Result<(), TrainError> {
        if !(self.proximal_mu.is_finite() && self.proximal_mu >= 0.0) {
            return Err(TrainError::InvalidConfig(format!(
                "proximal_mu is {} but must be finite and not negative",
                self.proximal_mu
            )));
        }
        if let Some(correction) = &self.correction {
            if correction.len() != len {
                return Err(TrainError::InvalidConfig(format!(
                    "the control-variate correction has {} values, the model has {len}",
                    correction.len()
                )));
            }
            if let Some(index) = correction.iter().position(|v| !v.is_finite()) {
                return Err(TrainError::InvalidConfig(format!(
                    "the control-variate correction is not finite at index {index}"
                )));
            }
        }
        Ok(())
    }
}

/// The terms on one device, split per parameter tensor in visit order.
pub(crate) struct DeviceTerms {
    half_mu: f32,
    anchors: Vec<Tensor<1>>,
    corrections: Vec<Tensor<1>>,
}

impl DeviceTerms {
    /// Copies the global model (the proximal anchor) and the correction to
    /// `device`; `None` when no term is active.
    pub(crate) fn new(terms: &LocalTerms, global: &ParamSet, device: &Device) -> Option<Self> {
        if terms.is_empty() {
            return None;
        }
        let split = |values: &[f32]| -> Vec<Tensor<1>> {
            let mut start = 0;
            global
                .tensors()
                .map(|(_, tensor)| {
                    let len = tensor.len();
                    let slice = values[start..start + len].to_vec();
                    start += len;
                    Tensor::from_data(TensorData::new(slice, [len]), device)
                })
                .collect()
        };
        let anchors = if terms.proximal_mu > 0.0 {
            split(global.values())
        } else {
            Vec::new()
        };
        let corrections = terms.correction.as_deref().map(split).unwrap_or_default();
        Some(Self {
            half_mu: (terms.proximal_mu / 2.0) as f32,
            anchors,
            corrections,
        })
    }

    /// Returns the sum of the active terms for the current parameters of
    /// `model`, as a one-element tensor that gradients flow through.
    pub(crate) fn penalty<M: Module>(&self, model: &M) -> Option<Tensor<1>> {
        let mut visitor = PenaltyVisitor {
            terms: self,
            index: 0,
            sum: None,
        };
        model.visit(&mut visitor);
        visitor.sum
    }
}

struct PenaltyVisitor<'a> {
    terms: &'a DeviceTerms,
    index: usize,
    sum: Option<Tensor<1>>,
}

impl PenaltyVisitor<'_> {
    fn add(&mut self, term: Tensor<1>) {
        self.sum = Some(match self.sum.take() {
            Some(sum) => sum + term,
            None => term,
        });
    }
}

impl ModuleVisitor for PenaltyVisitor<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let weights = param.val().flatten::<1>(0, D - 1);
        if let Some(anchor) = self.terms.anchors.get(self.index) {
            let drift = weights.clone() - anchor.clone();
            self.add((drift.clone() * drift).sum().mul_scalar(self.terms.half_mu));
        }
        if let Some(correction) = self.terms.corrections.get(self.index) {
            self.add((weights * correction.clone()).sum());
        }
        self.index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_terms_are_empty() {
        assert!(LocalTerms::default().is_empty());
        let prox = LocalTerms {
            proximal_mu: 0.1,
            correction: None,
        };
        assert!(!prox.is_empty());
    }

    #[test]
    fn invalid_terms_are_rejected() {
        let negative = LocalTerms {
            proximal_mu: -1.0,
            correction: None,
        };
        assert!(negative.check(3).unwrap_err().to_string().contains("-1"));
        let short = LocalTerms {
            proximal_mu: 0.0,
            correction: Some(vec![0.0; 2]),
        };
        assert!(short.check(3).unwrap_err().to_string().contains("2 values"));
        let nan = LocalTerms {
            proximal_mu: 0.0,
            correction: Some(vec![0.0, f32::NAN, 0.0]),
        };
        assert!(nan.check(3).unwrap_err().to_string().contains("index 1"));
    }
}
