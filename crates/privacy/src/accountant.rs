//! The RDP accountant: composes the per-step RDP of every round of
//! DP-FedAvg and converts the total into an (ε, δ) guarantee.
//!
//! RDP composes additively at each order, so the accountant stores one
//! running total per order and steps may differ in sampling rate and noise
//! multiplier.

use crate::conversion::{PrivacySpent, best_epsilon, classic_epsilon, improved_epsilon};
use crate::error::PrivacyError;
use crate::orders::{standard_orders, validate_order};
use crate::rdp::SampledGaussian;

/// Running RDP total of a sequence of Poisson-subsampled Gaussian steps.
/// It serialises with serde, so a checkpoint can carry what a run spent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RdpAccountant {
    /// The RDP orders, fixed at construction.
    orders: Vec<f64>,
    /// Total RDP at `orders[i]` in nats, which grows with every recorded
    /// step.
    rdp: Vec<f64>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        Self::new()
    }
}

impl RdpAccountant {
    /// Creates an accountant over the [`standard_orders`] with nothing spent.
    pub fn new() -> Self {
        let orders = standard_orders();
        let rdp = vec![0.0; orders.len()];
        Self { orders, rdp }
    }

    /// Creates an accountant over the given orders with nothing spent.
    ///
    /// # Errors
    ///
    /// [`PrivacyError::NoOrders`] for an empty list and
    /// [`PrivacyError::InvalidOrder`] for the first order that is not
    /// finite and in (1, [`MAX_ORDER`](crate::MAX_ORDER)].
    pub fn with_orders(orders: Vec<f64>) -> Result<Self, PrivacyError> {
        if orders.is_empty() {
            return Err(PrivacyError::NoOrders);
        }
        for &order in &orders {
            validate_order(order)?;
        }
        let rdp = vec![0.0; orders.len()];
        Ok(Self { orders, rdp })
    }

    /// Records one step (one round) with the given sampling rate and noise
    /// multiplier.
    ///
    /// # Errors
    ///
    /// As [`sampled_gaussian_rdp`](crate::sampled_gaussian_rdp). On error
    /// nothing is recorded.
    pub fn record_step(
        &mut self,
        sampling_rate: f64,
        noise_multiplier: f64,
    ) -> Result<(), PrivacyError> {
        self.record_steps(sampling_rate, noise_multiplier, 1)
    }

    /// Records `count` identical steps, adding `count` times the RDP of one
    /// step at every order. A total that overflows f64 becomes +∞ at that
    /// order, so that order gives ε = +∞.
    ///
    /// # Errors
    ///
    /// As [`sampled_gaussian_rdp`](crate::sampled_gaussian_rdp). On error
    /// nothing is recorded.
    pub fn record_steps(
        &mut self,
        sampling_rate: f64,
        noise_multiplier: f64,
        count: u64,
    ) -> Result<(), PrivacyError> {
        let mechanism = SampledGaussian::new(sampling_rate, noise_multiplier)?;
        if count == 0 {
            return Ok(());
        }

        let per_step = self
            .orders
            .iter()
            .map(|&order| mechanism.rdp(order))
            .collect::<Result<Vec<_>, _>>()?;
        for (total, step) in self.rdp.iter_mut().zip(per_step) {
            *total += count as f64 * step;
        }
        Ok(())
    }

    /// Records one round of the Skellam mechanism (distributed noise under
    /// secure aggregation) with total noise Sk(μ, μ) and sensitivities
    /// `l2`, `l1`, without amplification by sampling.
    ///
    /// # Errors
    ///
    /// [`PrivacyError::InvalidNoiseStddev`] for μ that is not finite and
    /// positive. On error nothing is recorded.
    pub fn record_skellam(&mut self, mu: f64, l2: f64, l1: f64) -> Result<(), PrivacyError> {
        if !(mu.is_finite() && mu > 0.0) {
            return Err(PrivacyError::InvalidNoiseStddev(mu));
        }
        for (total, &order) in self.rdp.iter_mut().zip(&self.orders) {
            *total += crate::distributed::skellam_rdp(order, l2, l1, mu);
        }
        Ok(())
    }

    /// Returns the RDP orders, in the order given at construction.
    pub fn orders(&self) -> &[f64] {
        &self.orders
    }

    /// Returns the total RDP at each of [`orders`](Self::orders), in nats.
    pub fn rdp(&self) -> &[f64] {
        &self.rdp
    }

    /// Computes the ε spent for `delta` by the improved conversion of Balle
    /// et al. (2020), minimised over the orders. This is the default conversion:
    /// it gives a smaller ε than [`epsilon_classic`](Self::epsilon_classic)
    /// at every order.
    ///
    /// ε is never negative. When the total RDP is 0 at every order (no
    /// steps, or only steps with sampling rate 0), ε is exactly 0.
    ///
    /// # Errors
    ///
    /// [`PrivacyError::InvalidDelta`] unless 0 < δ < 1.
    pub fn epsilon(&self, delta: f64) -> Result<PrivacySpent, PrivacyError> {
        best_epsilon(&self.orders, &self.rdp, delta, improved_epsilon)
    }

    /// Computes the ε spent for `delta` by the classic conversion of Mironov
    /// (2017), ε = RDP + ln(1/δ)/(α - 1), minimised over the orders. Zero RDP and
    /// negative values are treated as in [`epsilon`](Self::epsilon).
    ///
    /// # Errors
    ///
    /// [`PrivacyError::InvalidDelta`] unless 0 < δ < 1.
    pub fn epsilon_classic(&self, delta: f64) -> Result<PrivacySpent, PrivacyError> {
        best_epsilon(&self.orders, &self.rdp, delta, classic_epsilon)
    }
}

#[cfg(test)]
mod tests;
