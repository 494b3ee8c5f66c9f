//! Secure aggregation on the client. Once training is done, the update
//! either enters SecAgg's phases, keys first, and is quantized into the
//! round's ring when the masked input is due. Or, with two servers, it is
//! quantized at once and split between the aggregator and the mask server.
//! This module also replies to the server's requests of later phases. A
//! request the protocol forbids is rejected and logged, and the client then
//! counts as dropped for that round.

use rand::SeedableRng;
use rand::rngs::StdRng;
use starling_privacy::SkellamNoise;
use starling_proto::{
    ClientMessage, SecureProtocol, SecureReply, SecureRequest, SecureSetup, SkellamSetup,
    TrainingReport, UpdatePayload,
};
use starling_secagg::{FixedPoint, MaskingClient, PackedEncoded, Ring, SecAggError, two_server};

/// A client's secure-aggregation state for the current round.
#[derive(Debug, Default)]
pub struct SecureUplink {
    /// The setup the current round's task carried, with its round.
    setup: Option<(u32, SecureSetup)>,
    /// SecAgg state between phases.
    masking: Option<MaskingClient>,
    /// Loss and steps to report with the masked input.
    report: Option<TrainingReport>,
    /// Values clipped to the ring's range in the last round.
    clipped: u64,
}

impl SecureUplink {
    /// Records the setup of a new round's task (`None` without secure
    /// aggregation) and forgets the previous round's state.
    pub fn begin(&mut self, round: u32, setup: Option<SecureSetup>) {
        self.setup = setup.map(|setup| (round, setup));
        self.masking = None;
        self.report = None;
        self.clipped = 0;
    }

    /// Values this client clipped to the ring's range in its last secure
    /// round.
    pub fn clipped(&self) -> u64 {
        self.clipped
    }

    /// Turns a finished update into the first secure message of the round:
    /// the key advertisement (SecAgg, SecAgg+) or the split masked input
    /// (two servers). Other messages, and rounds without secure
    /// aggregation, pass through.
    pub fn seal(
        &mut self,
        message: ClientMessage,
        seed: u64,
    ) -> Result<ClientMessage, SecAggError> {
        let ClientMessage::Update(update) = message else {
            return Ok(message);
        };
        let Some((round, setup)) = self.setup.clone() else {
            return Ok(ClientMessage::Update(update));
        };
        if round != update.round {
            return Ok(ClientMessage::Update(update));
        }
        let report = TrainingReport {
            local_steps: update.local_steps,
            train_loss: update.train_loss,
        };
        let weight = if setup.weighted {
            update.num_examples.min(setup.max_weight)
        } else {
            1
        };
        let UpdatePayload::Dense(delta) = update.payload else {
            return Err(SecAggError::Protocol(
                "secure rounds need the plain update to quantize".into(),
            ));
        };
        let (_, values) = delta.into_parts();
        if !(setup.clip_range.is_finite() && setup.clip_range > 0.0) {
            return Err(SecAggError::Params(format!(
                "clip_range must be a positive finite number, got {}",
                setup.clip_range
            )));
        }
        let ring = Ring::new(setup.ring_bits)?;
        let fixed = FixedPoint::with(setup.clip_range, setup.value_bits);
        match (setup.protocol, setup.noise) {
            (SecureProtocol::SecAgg | SecureProtocol::SecAggPlus, None) => {
                // The update is quantized when the masked input is due.
                let (client, advert) =
                    MaskingClient::with_update(&setup, round, values, fixed, weight, seed)?;
                self.masking = Some(client);
                self.report = Some(report);
                Ok(ClientMessage::Secure(advert))
            }
            (SecureProtocol::SecAgg | SecureProtocol::SecAggPlus, Some(noise)) => {
                let encoded = noised_vector(&values, &noise, ring)?;
                self.note_clipped(round, encoded.clipped);
                let (client, advert) = MaskingClient::with_packed(&setup, round, encoded.bytes)?;
                self.masking = Some(client);
                self.report = Some(report);
                Ok(ClientMessage::Secure(advert))
            }
            (SecureProtocol::TwoServer, noise) => {
                let key = setup.mask_server_key.as_deref().ok_or_else(|| {
                    SecAggError::Params("the task names no mask server key".into())
                })?;
                let encoded = match noise {
                    Some(noise) => noised_vector(&values, &noise, ring)?,
                    None => fixed.encode_packed(ring, &values, weight, seed)?,
                };
                self.note_clipped(round, encoded.clipped);
                let mut masked = encoded.bytes;
                let share = two_server::split(ring, &mut masked, key, round, setup.slot)?;
                Ok(ClientMessage::Secure(SecureReply::MaskedInput {
                    round,
                    masked,
                    mask_share: Some(share),
                    report,
                }))
            }
        }
    }

    /// Records and logs the values clipped to the secure range.
    fn note_clipped(&mut self, round: u32, clipped: u64) {
        self.clipped = clipped;
        if clipped > 0 {
            tracing::debug!(round, clipped, "values clipped to the secure range");
        }
    }

    /// Answers a request of a later phase.
    pub fn on_request(&mut self, request: SecureRequest) -> Result<ClientMessage, SecAggError> {
        let client = self.masking.as_mut().ok_or_else(|| {
            SecAggError::Protocol(format!(
                "a request for round {} arrived, but this client holds no secure round",
                request.round()
            ))
        })?;
        let mut reply = client.on_request(request)?;
        if let SecureReply::MaskedInput { round, report, .. } = &mut reply {
            let (round, clipped) = (*round, client.clipped());
            if let Some(own) = self.report.take() {
                *report = own;
            }
            if let Some(clipped) = clipped {
                self.note_clipped(round, clipped);
            }
        }
        Ok(ClientMessage::Secure(reply))
    }
}

/// Clips, rounds and noises `values` for distributed differential privacy
/// and lays them out as a secure vector: the signed integers in the ring,
/// then weight 1 and a clipped count of 0. The count stays 0 because an
/// exact count of clipped clients would be released without noise.
fn noised_vector(
    values: &[f32],
    noise: &SkellamSetup,
    ring: Ring,
) -> Result<PackedEncoded, SecAggError> {
    let skellam = SkellamNoise {
        clip_norm: noise.clip_norm,
        scale: noise.scale,
        l2_bound: noise.l2_bound,
        lambda: noise.lambda,
    };
    // The noise protects only while nobody can regenerate it: it comes from
    // the system CSPRNG, never from the round's seed.
    let mut rng = StdRng::from_seed(starling_secagg::random::seed()?);
    let (integers, clipped) = skellam
        .encode(values, &mut rng)
        .map_err(|err| SecAggError::BadInput(format!("distributed noise failed: {err}")))?;
    let mut out: Vec<u64> = integers.iter().map(|&v| ring.from_signed(v)).collect();
    out.push(1);
    out.push(0);
    Ok(PackedEncoded {
        bytes: ring.pack(&out),
        clipped: u64::from(clipped),
    })
}

#[cfg(test)]
mod tests {
    use starling_proto::{ClientUpdate, ParamSet, TensorSpec};

    use super::*;

    fn setup(clip_range: f64) -> SecureSetup {
        SecureSetup {
            protocol: SecureProtocol::SecAgg,
            slot: 1,
            clients: 3,
            threshold: 2,
            ring_bits: 32,
            value_bits: 16,
            clip_range,
            max_weight: 10,
            weighted: true,
            mask_server_key: None,
            noise: None,
        }
    }

    fn update(round: u32) -> ClientMessage {
        let specs = vec![TensorSpec {
            name: "w".into(),
            shape: vec![2],
        }];
        ClientMessage::Update(ClientUpdate {
            round,
            num_examples: 4,
            local_steps: 1,
            train_loss: 0.5,
            payload: UpdatePayload::Dense(ParamSet::new(specs, vec![0.5, -2.0]).unwrap()),
            control_delta: None,
            clipped: None,
        })
    }

    #[test]
    fn update_becomes_key_advertisement() {
        let mut uplink = SecureUplink::default();
        uplink.begin(3, Some(setup(1.0)));
        let sealed = uplink.seal(update(3), 9).unwrap();
        assert!(matches!(
            sealed,
            ClientMessage::Secure(SecureReply::AdvertiseKeys { round: 3, .. })
        ));
    }

    #[test]
    fn invalid_clip_range_is_rejected() {
        for clip_range in [f64::NAN, -1.0, 0.0, f64::INFINITY] {
            let mut uplink = SecureUplink::default();
            uplink.begin(3, Some(setup(clip_range)));
            let err = uplink.seal(update(3), 9).unwrap_err();
            assert!(
                err.to_string().contains("clip_range"),
                "{clip_range}: {err}"
            );
        }
    }
}
