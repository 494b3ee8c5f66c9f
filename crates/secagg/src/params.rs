//! The parameters of a secure round and the checks they must pass before
//! the round starts: a threshold that keeps a strict majority, a ring wide
//! enough that the weighted sum cannot wrap, and a positive clipping range.

use starling_proto::{SecureProtocol, SecureSetup};

use crate::SecAggError;

/// Everything both sides must agree on for one secure round.
#[derive(Clone, Debug, PartialEq)]
pub struct SecureParams {
    /// The protocol.
    pub protocol: SecureProtocol,
    /// Clients n taking part.
    pub clients: u32,
    /// Shares needed to reconstruct a secret, out of each client's
    /// neighbourhood (itself included).
    pub threshold: u32,
    /// SecAgg+: neighbours of each client in the graph; ignored otherwise.
    pub neighbours: u32,
    /// Bits b of the ring.
    pub ring_bits: u8,
    /// Bits of each quantized value.
    pub value_bits: u8,
    /// Clipping range R: values are clipped to [−R, R].
    pub clip_range: f64,
    /// Largest weight of one client.
    pub max_weight: u64,
    /// Weight by example count; otherwise every client weighs 1.
    pub weighted: bool,
    /// Values in the update (the vector carries two more: weight and count
    /// of clipped values).
    pub len: usize,
    /// Distributed Skellam noise for differential privacy; `None` without.
    pub noise: Option<starling_proto::SkellamSetup>,
    /// The fewest masked inputs the server unmasks, across the whole
    /// cohort; 0 leaves only the threshold. Distributed noise is sized for
    /// this many clients.
    pub min_survivors: u32,
}

impl SecureParams {
    /// Shares each client makes, itself included: n for SecAgg, the
    /// graph degree plus one for SecAgg+.
    pub fn neighbourhood(&self) -> u32 {
        match self.protocol {
            SecureProtocol::SecAggPlus => (self.neighbours + 1).min(self.clients),
            _ => self.clients,
        }
    }

    /// Bits the ring needs so that the sum of every client's weighted values,
    /// weights and clipped counts stays below 2^b. With distributed noise
    /// the signed sum must stay within ±2^(b−1): n clients' rounded values
    /// of at most Δ2 each, plus 20 standard deviations of their noise.
    pub fn required_bits(&self) -> u32 {
        if let Some(noise) = &self.noise {
            let n = f64::from(self.clients);
            let reach = n * noise.l2_bound + 20.0 * (2.0 * n * noise.lambda).sqrt();
            return reach.max(1.0).log2().ceil() as u32 + 2;
        }
        let n = u128::from(self.clients);
        let top = (1u128 << self.value_bits.min(64)) - 1;
        let weight = u128::from(self.effective_max_weight());
        let largest = [n * top * weight, n * weight, n * self.len as u128]
            .into_iter()
            .max()
            .unwrap_or(0);
        128 - largest.leading_zeros()
    }

    /// The largest weight a client can use: 1 when unweighted.
    pub fn effective_max_weight(&self) -> u64 {
        if self.weighted { self.max_weight } else { 1 }
    }

    /// Refuses parameters that would leak an update or wrap the sum.
    pub fn check(&self) -> Result<(), SecAggError> {
        let fail = |reason: String| Err(SecAggError::Params(reason));
        if self.clients < 2 {
            return fail(format!(
                "secure aggregation needs at least 2 clients, the round has {}",
                self.clients
            ));
        }
        if !(self.clip_range.is_finite() && self.clip_range > 0.0) {
            return fail(format!(
                "clip_range must be positive and finite, got {}",
                self.clip_range
            ));
        }
        if !(1..=32).contains(&self.value_bits) {
            return fail(format!(
                "value_bits must be between 1 and 32, got {}",
                self.value_bits
            ));
        }
        if !(1..=64).contains(&self.ring_bits) {
            return fail(format!(
                "ring_bits must be between 1 and 64, got {}",
                self.ring_bits
            ));
        }
        if self.weighted && !(1..=1u64 << 40).contains(&self.max_weight) {
            return fail(format!(
                "max_weight must be between 1 and 2^40, got {}",
                self.max_weight
            ));
        }
        let need = self.required_bits();
        if need > u32::from(self.ring_bits) {
            return fail(format!(
                "a {}-bit ring is too small: {} clients with {}-bit values and weights up to {} \
                 need {need} bits, or the sum would wrap; raise ring_bits to {need} or lower \
                 value_bits or max_weight",
                self.ring_bits,
                self.clients,
                self.value_bits,
                self.effective_max_weight()
            ));
        }
        if self.protocol == SecureProtocol::TwoServer {
            return Ok(());
        }
        // Two or three clients can only form the complete graph.
        let fewest = 2.min(self.clients - 1);
        if self.protocol == SecureProtocol::SecAggPlus && self.neighbours < fewest {
            return fail(format!(
                "secagg+ needs at least {fewest} neighbours per client, got {}",
                self.neighbours
            ));
        }
        let shares = self.neighbourhood();
        if self.threshold > shares || 2 * self.threshold <= shares {
            return fail(format!(
                "threshold {} must be above half of the {shares} shares each client makes \
                 and at most {shares}",
                self.threshold
            ));
        }
        Ok(())
    }

    /// The parameters a client receives in its task.
    pub fn setup(&self, slot: u32, mask_server_key: Option<Vec<u8>>) -> SecureSetup {
        let noise = self.noise;
        SecureSetup {
            protocol: self.protocol,
            slot,
            clients: self.clients,
            threshold: self.threshold,
            ring_bits: self.ring_bits,
            value_bits: self.value_bits,
            clip_range: self.clip_range,
            max_weight: self.max_weight,
            weighted: self.weighted,
            mask_server_key,
            noise,
        }
    }
}

/// The default threshold for a neighbourhood of `shares`: two thirds,
/// rounded up, and always a strict majority.
pub fn default_threshold(shares: u32) -> u32 {
    (shares * 2).div_ceil(3).max(shares / 2 + 1).min(shares)
}

/// The default SecAgg+ degree for n clients: 2⌈log2 n⌉, at most n − 1.
pub fn default_neighbours(clients: u32) -> u32 {
    let log = 32 - clients.saturating_sub(1).leading_zeros();
    (2 * log).min(clients.saturating_sub(1)).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SecureParams {
        SecureParams {
            protocol: SecureProtocol::SecAgg,
            clients: 10,
            threshold: 6,
            neighbours: 0,
            ring_bits: 34,
            value_bits: 13,
            clip_range: 1.0,
            max_weight: (1 << 17) - 1,
            weighted: true,
            len: 1000,
            noise: None,
            min_survivors: 0,
        }
    }

    #[test]
    fn ring_too_small_for_the_weighted_sum_is_refused() {
        let mut p = params();
        assert_eq!(p.required_bits(), 34);
        p.check().unwrap();
        p.ring_bits = 33;
        let err = p.check().unwrap_err().to_string();
        assert!(err.contains("need 34 bits"), "{err}");
        assert!(err.contains("33-bit ring is too small"), "{err}");
    }

    #[test]
    fn unweighted_rounds_need_fewer_bits() {
        let mut p = params();
        p.weighted = false;
        p.ring_bits = 17;
        assert_eq!(p.required_bits(), 17);
        p.check().unwrap();
    }

    #[test]
    fn threshold_must_be_a_strict_majority() {
        let mut p = params();
        p.threshold = 5;
        assert!(p.check().unwrap_err().to_string().contains("above half"));
        p.threshold = 11;
        assert!(p.check().is_err());
        p.threshold = 10;
        p.check().unwrap();
        p.protocol = SecureProtocol::TwoServer;
        p.threshold = 0;
        p.check().unwrap();
    }

    #[test]
    fn clip_range_must_be_positive() {
        let mut p = params();
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            p.clip_range = bad;
            assert!(p.check().unwrap_err().to_string().contains("clip_range"));
        }
    }

    #[test]
    fn secagg_plus_counts_shares_in_the_neighbourhood() {
        let mut p = params();
        p.protocol = SecureProtocol::SecAggPlus;
        p.neighbours = 7;
        p.threshold = 5;
        assert_eq!(p.neighbourhood(), 8);
        p.check().unwrap();
        p.threshold = 4;
        assert!(p.check().is_err());
    }

    #[test]
    fn defaults() {
        assert_eq!(default_threshold(10), 7);
        assert_eq!(default_threshold(2), 2);
        assert_eq!(default_threshold(3), 2);
        assert_eq!(default_neighbours(100), 14);
        assert_eq!(default_neighbours(10), 8);
        assert_eq!(default_neighbours(3), 2);
    }
}
