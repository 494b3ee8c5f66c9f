//! Downlink compression of the broadcast model. The server keeps a
//! reference model, the one its clients hold, and each round moves it
//! toward the global model by one compressed step: the difference is
//! encoded with a [`Chain`], and the reference adds the decoded values. A
//! client that holds an earlier version gets the steps since then and adds
//! the same decoded values in the same order, so it ends with the
//! server's reference bit for bit. What a step drops stays in the
//! difference and goes out with the next one, as in error feedback.

use std::collections::VecDeque;

pub use starling_proto::ModelStep;

use crate::{Chain, CompressError};

/// The server's reference model and the recent steps that produced it.
#[derive(Debug)]
pub struct Broadcast {
    chain: Chain,
    reference: Vec<f32>,
    round: u32,
    steps: VecDeque<ModelStep>,
    /// Steps are kept while their bytes together stay below the dense
    /// model's, past which sending the model itself is cheaper.
    dense_bytes: usize,
}

impl Broadcast {
    /// Starts from `initial`, version 0, which clients receive dense.
    pub fn new(chain: Chain, initial: Vec<f32>) -> Self {
        let dense_bytes = initial.len() * 4;
        Self {
            chain,
            reference: initial,
            round: 0,
            steps: VecDeque::new(),
            dense_bytes,
        }
    }

    /// The model clients hold at the current version.
    pub fn reference(&self) -> &[f32] {
        &self.reference
    }

    /// The current version: the round of the last step, 0 before any.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Moves the reference toward `global` by one compressed step for
    /// `round`. On error the reference is unchanged.
    pub fn advance(&mut self, global: &[f32], round: u32, seed: u64) -> Result<(), CompressError> {
        if global.len() != self.reference.len() {
            return Err(CompressError::LengthMismatch {
                expected: self.reference.len(),
                actual: global.len(),
            });
        }
        let difference: Vec<f32> = global
            .iter()
            .zip(&self.reference)
            .map(|(g, r)| g - r)
            .collect();
        let encoded = self.chain.encode(&difference, seed)?;
        add(&mut self.reference, &encoded.decoded);
        self.steps.push_back(ModelStep {
            base: self.round,
            round,
            seed,
            bytes: encoded.bytes,
        });
        self.round = round;
        while self
            .steps
            .iter()
            .map(|step| step.bytes.len())
            .sum::<usize>()
            > self.dense_bytes
        {
            self.steps.pop_front();
        }
        Ok(())
    }

    /// The steps that bring a client holding version `have` to the current
    /// reference: empty when it is current, `None` when it must get the
    /// dense model (it holds nothing, or a version older than the steps
    /// kept).
    pub fn steps_since(&self, have: Option<u32>) -> Option<Vec<ModelStep>> {
        let have = have?;
        if have == self.round {
            return Some(Vec::new());
        }
        let first = self.steps.iter().position(|step| step.base == have)?;
        Some(self.steps.iter().skip(first).cloned().collect())
    }
}

/// Adds the decoded `steps` to `model` in order, as the server did.
pub fn apply_steps(
    chain: &Chain,
    model: &mut [f32],
    steps: &[ModelStep],
) -> Result<(), CompressError> {
    let mut next = model.to_vec();
    for step in steps {
        let decoded = chain.decode(&step.bytes, next.len(), step.seed)?;
        add(&mut next, &decoded);
    }
    model.copy_from_slice(&next);
    Ok(())
}

fn add(model: &mut [f32], step: &[f32]) {
    for (value, change) in model.iter_mut().zip(step) {
        *value += change;
    }
}

#[cfg(test)]
mod tests {
    use starling_proto::UplinkCompression;

    use super::*;

    fn chain(spec: &str) -> Chain {
        let spec = UplinkCompression::parse(spec, true).unwrap().unwrap();
        Chain::from_spec(&spec, 1000).unwrap()
    }

    fn model(round: u32) -> Vec<f32> {
        (0..1000)
            .map(|i| ((i * 7 + round as usize * 13) % 101) as f32 / 100.0 - 0.5)
            .collect()
    }

    #[test]
    fn a_client_rebuilds_the_reference_bit_for_bit() {
        let chain = chain("8bit");
        let mut server = Broadcast::new(chain, model(0));
        let mut client = model(0);
        let mut stale = model(0);
        for round in 1..=3 {
            server
                .advance(&model(round), round, 100 + u64::from(round))
                .unwrap();
            let steps = server.steps_since(Some(round - 1)).unwrap();
            assert_eq!(steps.len(), 1);
            apply_steps(&chain, &mut client, &steps).unwrap();
            assert_eq!(client, server.reference(), "round {round}");
        }
        // A client that stayed at version 0 gets all three steps.
        let steps = server.steps_since(Some(0)).unwrap();
        assert_eq!(steps.len(), 3);
        apply_steps(&chain, &mut stale, &steps).unwrap();
        assert_eq!(stale, server.reference());
        assert_eq!(server.steps_since(Some(3)), Some(Vec::new()));
        assert_eq!(server.steps_since(None), None);
    }

    #[test]
    fn the_reference_follows_the_global_model() {
        // What a top-10% step drops goes out with the next ones: after ten
        // steps toward a fixed target every value has been sent.
        let chain = chain("topk:0.1");
        let target = model(9);
        let mut server = Broadcast::new(chain, vec![0.0; 1000]);
        let error = |r: &[f32]| {
            r.iter()
                .zip(&target)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max)
        };
        server.advance(&target, 1, 1).unwrap();
        let first = error(server.reference());
        assert!(first > 0.1, "{first}");
        for round in 2..=10 {
            server.advance(&target, round, u64::from(round)).unwrap();
        }
        assert!(
            error(server.reference()) < 1e-6,
            "{}",
            error(server.reference())
        );
    }

    #[test]
    fn old_versions_get_the_dense_model() {
        // 8-bit steps of 1000 values take about a quarter of the 4000
        // dense bytes, so only the last few are kept.
        let chain = chain("8bit");
        let mut server = Broadcast::new(chain, model(0));
        for round in 1..=10 {
            server
                .advance(&model(round), round, u64::from(round))
                .unwrap();
        }
        assert_eq!(server.steps_since(Some(0)), None);
        assert!(server.steps_since(Some(9)).is_some());
        let kept = server.steps_since(Some(7)).map(|s| s.len());
        assert_eq!(kept, Some(3));
    }

    #[test]
    fn wrong_lengths_leave_the_reference_unchanged() {
        let mut server = Broadcast::new(chain("8bit"), model(0));
        assert!(server.advance(&[0.0; 3], 1, 1).is_err());
        assert_eq!(server.reference(), &model(0)[..]);
        assert_eq!(server.round(), 0);
        let mut client = model(0);
        let bad = ModelStep {
            base: 0,
            round: 1,
            seed: 1,
            bytes: vec![9, 9, 9],
        };
        assert!(apply_steps(&chain("8bit"), &mut client, &[bad]).is_err());
        assert_eq!(client, model(0));
    }
}
