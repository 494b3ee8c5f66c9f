//! Compression of a client's update before upload, as the round task requests,
//! with error feedback: the residual of what compression dropped is added
//! to the next update. The residual belongs to the session, so it survives
//! reconnects within a run and starts over in a new run.

use starling_compress::{Chain, CompressError, ErrorFeedback};
use starling_proto::{ClientMessage, RoundTask, UpdatePayload, UplinkCompression};

/// Compression fields of a task, kept while training consumes the task.
#[derive(Clone, Debug, PartialEq)]
pub struct Packing {
    /// Round of the task.
    pub round: u32,
    /// The compression asked for, if any.
    pub compression: Option<UplinkCompression>,
    /// Seed shared by the round (rand-k positions).
    pub round_seed: u64,
    /// The client's own seed (stochastic rounding).
    pub client_seed: u64,
}

impl Packing {
    /// Reads the compression fields of `task`.
    pub fn of(task: &RoundTask) -> Self {
        Self {
            round: task.round,
            compression: task.compression,
            round_seed: task.round_seed,
            client_seed: task.seed,
        }
    }
}

/// A session's error-feedback state.
#[derive(Debug, Default)]
pub struct Uplink {
    /// Run the residual belongs to, and the residual.
    feedback: Option<(String, ErrorFeedback)>,
}

impl Uplink {
    /// Returns the residual carried into the next update, if any.
    pub fn residual(&self) -> Option<&[f32]> {
        self.feedback.as_ref().map(|(_, fb)| fb.residual())
    }

    /// Compresses the dense update in `message` as `packing` requests, within
    /// run `run_id`. Messages without a dense update, and tasks without
    /// compression, pass through unchanged.
    pub fn pack(
        &mut self,
        message: ClientMessage,
        packing: &Packing,
        run_id: &str,
    ) -> Result<ClientMessage, CompressError> {
        let Some(spec) = packing.compression else {
            return Ok(message);
        };
        let ClientMessage::Update(mut update) = message else {
            return Ok(message);
        };
        let UpdatePayload::Dense(delta) = &update.payload else {
            return Ok(ClientMessage::Update(update));
        };
        let values = delta.values();
        let chain = Chain::from_spec(&spec, values.len())?;
        let bytes = if spec.error_feedback {
            let stale = match &self.feedback {
                Some((run, fb)) => run != run_id || fb.residual().len() != values.len(),
                None => true,
            };
            if stale {
                self.feedback = None;
            }
            let (_, feedback) = self
                .feedback
                .get_or_insert_with(|| (run_id.to_owned(), ErrorFeedback::new(values.len())));
            let compensated = feedback.compensate(values)?;
            let encoded =
                chain.encode_with(&compensated, packing.round_seed, packing.client_seed)?;
            feedback.record(&compensated, &encoded.decoded)?;
            encoded.bytes
        } else {
            chain
                .encode_with(values, packing.round_seed, packing.client_seed)?
                .bytes
        };
        update.payload = UpdatePayload::Compressed(bytes);
        Ok(ClientMessage::Update(update))
    }
}

#[cfg(test)]
mod tests {
    use starling_proto::{ClientUpdate, ParamSet, TensorSpec};

    use super::*;

    fn update(values: Vec<f32>) -> ClientMessage {
        let len = values.len();
        let spec = TensorSpec {
            name: "w".to_owned(),
            shape: vec![len as u32],
        };
        ClientMessage::Update(ClientUpdate {
            round: 1,
            num_examples: 10,
            local_steps: 1,
            train_loss: 0.5,
            payload: UpdatePayload::Dense(ParamSet::new(vec![spec], values).unwrap()),
            control_delta: None,
            clipped: None,
        })
    }

    fn packing(spec: &str) -> Packing {
        Packing {
            round: 1,
            compression: UplinkCompression::parse(spec, true).unwrap(),
            round_seed: 7,
            client_seed: 9,
        }
    }

    fn sent(message: &ClientMessage, spec: &str, len: usize) -> Vec<f32> {
        let ClientMessage::Update(update) = message else {
            panic!("not an update");
        };
        let UpdatePayload::Compressed(bytes) = &update.payload else {
            panic!("not compressed");
        };
        let chain = Chain::from_spec(&packing(spec).compression.unwrap(), len).unwrap();
        chain.decode(bytes, len, 7).unwrap()
    }

    #[test]
    fn pack_top_one_sends_residual_next() {
        // g1 = [3, 1], g2 = [0, 1] with top-1: [3, 0] then [0, 2], and the
        // residual ends at [0, 0].
        let mut uplink = Uplink::default();
        let spec = "topk:0.5";
        let first = uplink
            .pack(update(vec![3.0, 1.0]), &packing(spec), "run")
            .unwrap();
        assert_eq!(sent(&first, spec, 2), [3.0, 0.0]);
        assert_eq!(uplink.residual(), Some(&[0.0, 1.0][..]));
        let second = uplink
            .pack(update(vec![0.0, 1.0]), &packing(spec), "run")
            .unwrap();
        assert_eq!(sent(&second, spec, 2), [0.0, 2.0]);
        assert_eq!(uplink.residual(), Some(&[0.0, 0.0][..]));
    }

    #[test]
    fn pack_new_run_resets_residual() {
        let mut uplink = Uplink::default();
        let spec = "topk:0.5";
        uplink
            .pack(update(vec![3.0, 1.0]), &packing(spec), "run-a")
            .unwrap();
        let next = uplink
            .pack(update(vec![0.0, 1.0]), &packing(spec), "run-b")
            .unwrap();
        assert_eq!(sent(&next, spec, 2), [0.0, 1.0]);
    }

    #[test]
    fn without_compression_the_update_is_unchanged() {
        let mut uplink = Uplink::default();
        let message = update(vec![1.0, 2.0]);
        let packed = uplink
            .pack(message.clone(), &packing("none"), "run")
            .unwrap();
        assert_eq!(packed, message);
        assert_eq!(uplink.residual(), None);
    }

    #[test]
    fn non_finite_updates_are_refused_before_encoding() {
        let mut uplink = Uplink::default();
        let err = uplink
            .pack(update(vec![1.0, f32::NAN]), &packing("8bit"), "run")
            .unwrap_err();
        assert!(
            matches!(err, CompressError::NonFinite { index: 1, .. }),
            "{err}"
        );
    }
}
