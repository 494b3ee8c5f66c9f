//! Secure aggregation on the client: once training is done, the update is
//! quantized into the round's ring and either enters SecAgg's phases (keys
//! first, the masked input later) or is split between the aggregator and
//! the mask server. The server's requests of later phases are answered
//! here; a request the protocol forbids is refused and logged, and the
//! client then counts as dropped for that round.

use rand::SeedableRng;
use rand::rngs::StdRng;
use starling_privacy::SkellamNoise;
use starling_proto::{
    ClientMessage, SecureProtocol, SecureReply, SecureRequest, SecureSetup, SkellamSetup,
    TrainingReport, UpdatePayload,
};
use starling_secagg::{Encoded, FixedPoint, MaskingClient, Ring, SecAggError, two_server};

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
        let ClientMessage::Update(update) = &message else {
            return Ok(message);
        };
        let Some((round, setup)) = self.setup.clone() else {
            return Ok(message);
        };
        if round != update.round {
            return Ok(message);
        }
        let UpdatePayload::Dense(delta) = &update.payload else {
            return Err(SecAggError::Protocol(
                "secure rounds need the plain update to quantize".into(),
            ));
        };
        let encoded = match setup.noise {
            Some(noise) => noised_vector(delta.values(), &noise, setup.ring_bits)?,
            None => {
                let fixed = FixedPoint::with(setup.clip_range, setup.value_bits);
                let weight = if setup.weighted {
                    update.num_examples.min(setup.max_weight)
                } else {
                    1
                };
                fixed.encode(delta.values(), weight, seed)?
            }
        };
        self.clipped = encoded.clipped;
        if encoded.clipped > 0 {
            tracing::debug!(
                round,
                clipped = encoded.clipped,
                "values clipped to the secure range"
            );
        }
        let report = TrainingReport {
            local_steps: update.local_steps,
            train_loss: update.train_loss,
        };
        match setup.protocol {
            SecureProtocol::TwoServer => {
                let key = setup.mask_server_key.as_deref().ok_or_else(|| {
                    SecAggError::Params("the task names no mask server key".into())
                })?;
                let ring = Ring::new(setup.ring_bits)?;
                let mut values = encoded.values;
                let share = two_server::split(ring, &mut values, key, round, setup.slot)?;
                Ok(ClientMessage::Secure(SecureReply::MaskedInput {
                    round,
                    masked: ring.pack(&values),
                    mask_share: Some(share),
                    report,
                }))
            }
            SecureProtocol::SecAgg | SecureProtocol::SecAggPlus => {
                let (client, advert) = MaskingClient::new(&setup, round, encoded.values)?;
                self.masking = Some(client);
                self.report = Some(report);
                Ok(ClientMessage::Secure(advert))
            }
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
        if let SecureReply::MaskedInput { report, .. } = &mut reply
            && let Some(own) = self.report.take()
        {
            *report = own;
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
    ring_bits: u8,
) -> Result<Encoded, SecAggError> {
    let ring = Ring::new(ring_bits)?;
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
    Ok(Encoded {
        values: out,
        clipped: u64::from(clipped),
    })
}
