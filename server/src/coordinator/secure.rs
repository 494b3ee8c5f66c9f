//! Secure aggregation inside a round: each sampled client gets a slot, the
//! masking server runs the protocol's phases over the clients' replies, and
//! the unmasked sum is decoded into the round's mean update. The
//! coordinator only ever holds masked vectors and the final sum.

use std::collections::{BTreeMap, BTreeSet};

use starling_privacy::SkellamNoise;
use starling_proto::{
    ClientMessage, ErrorCode, SecureReply, SecureRequest, SecureSetup, TrainingReport,
};
use starling_runlog::SecAggRound;
use starling_secagg::two_server::Aggregator;
use starling_secagg::{
    Decoded, FixedPoint, MaskingServer, Participation, Ring, SecAggError, SecureParams,
};

use super::round::Rejection;

/// The protocol engine of a round.
#[derive(Debug)]
enum Engine {
    /// SecAgg or SecAgg+.
    Masking(MaskingServer),
    /// The aggregator's half of the two-server protocol, with the mask
    /// server's sum once it arrived.
    TwoServer(Aggregator, Option<Vec<u64>>),
}

/// A secure round's state on the server.
#[derive(Debug)]
pub struct SecureRound {
    params: SecureParams,
    slots: BTreeMap<String, u32>,
    ids: BTreeMap<u32, String>,
    engine: Engine,
    mask_server_key: Option<Vec<u8>>,
    /// Distributed noise and the expected cohort q·N the noised sum is
    /// divided by; `None` without differential privacy.
    noise: Option<(SkellamNoise, f64)>,
    reports: BTreeMap<u32, TrainingReport>,
    /// Bytes of key advertisements, share bundles, requests and revealed
    /// shares, both directions, and of the mask server exchange: what the
    /// protocol adds to the updates.
    pub protocol_bytes: u64,
    /// Bytes of the masked inputs.
    pub masked_bytes: u64,
    /// Why the protocol stopped early, when it did.
    failure: Option<String>,
}

/// What the coordinator sends the mask server in a two-server round.
#[derive(Debug)]
pub struct MaskRequest {
    /// The ring of the round.
    pub ring: Ring,
    /// Elements per vector.
    pub width: usize,
    /// Each client's slot and sealed seed.
    pub seeds: Vec<(u32, Vec<u8>)>,
}

/// The decoded outcome of a secure round.
#[derive(Debug)]
pub struct SecureOutcome {
    /// The weighted mean update.
    pub mean: Vec<f32>,
    /// The sum of the weights (examples, or clients when unweighted).
    pub total_weight: u64,
    /// Values clipped to the range across all survivors.
    pub clipped: u64,
    /// Who took part in each phase.
    pub participation: Participation,
    /// Survivors' ids, in slot order.
    pub survivors: Vec<String>,
    /// Mean local training loss over the survivors.
    pub train_loss: Option<f64>,
}

impl SecureRound {
    /// Opens the protocol for `sampled` clients; fails when the parameters
    /// do not hold for this cohort (too few clients, a ring that would
    /// wrap).
    pub fn new(
        params: SecureParams,
        sampled: &BTreeSet<String>,
        round: u32,
        graph_seed: u64,
        mask_server_key: Option<Vec<u8>>,
        noise: Option<(SkellamNoise, f64)>,
    ) -> Result<Self, SecAggError> {
        let slots: BTreeMap<String, u32> = sampled.iter().cloned().zip(1u32..).collect();
        let ids = slots.iter().map(|(id, slot)| (*slot, id.clone())).collect();
        let engine = match params.protocol {
            starling_proto::SecureProtocol::TwoServer => {
                if mask_server_key.is_none() {
                    return Err(SecAggError::Params("no mask server key".into()));
                }
                Engine::TwoServer(Aggregator::new(params.clone(), round)?, None)
            }
            _ => Engine::Masking(MaskingServer::new(params.clone(), round, graph_seed)?),
        };
        Ok(Self {
            engine,
            mask_server_key,
            noise,
            params,
            slots,
            ids,
            reports: BTreeMap::new(),
            protocol_bytes: 0,
            masked_bytes: 0,
            failure: None,
        })
    }

    /// Returns the setup sent with `client_id`'s task.
    pub fn setup(&self, client_id: &str) -> Option<SecureSetup> {
        self.slots
            .get(client_id)
            .map(|&slot| self.params.setup(slot, self.mask_server_key.clone()))
    }

    /// The distributed noise of the round; `None` without differential
    /// privacy.
    pub fn noise(&self) -> Option<&SkellamNoise> {
        self.noise.as_ref().map(|(noise, _)| noise)
    }

    /// Returns the protocol's name.
    pub fn protocol(&self) -> &'static str {
        self.params.protocol.as_str()
    }

    /// The phase being collected: `unmask` once the sum can be computed.
    pub fn phase(&self) -> &'static str {
        match &self.engine {
            Engine::Masking(server) => server.phase().name(),
            Engine::TwoServer(_, None) => "masked-input",
            Engine::TwoServer(_, Some(_)) => "unmask",
        }
    }

    /// True when every client expected in the current phase replied.
    pub fn phase_complete(&self) -> bool {
        match &self.engine {
            Engine::Masking(server) => server.phase_complete(),
            Engine::TwoServer(aggregator, _) => aggregator.complete(),
        }
    }

    /// Two-server rounds: what to send the mask server; `None` for other
    /// protocols and once its sum arrived.
    pub fn mask_request(&self) -> Option<MaskRequest> {
        match &self.engine {
            Engine::TwoServer(aggregator, None) => Some(MaskRequest {
                ring: aggregator.ring(),
                width: aggregator.width(),
                seeds: aggregator.sealed_seeds(),
            }),
            _ => None,
        }
    }

    /// Two-server rounds: stores the mask server's sum.
    pub fn set_mask_sum(&mut self, sum: Vec<u64>) {
        if let Engine::TwoServer(_, slot) = &mut self.engine {
            *slot = Some(sum);
        }
    }

    /// Records why the protocol stopped early.
    pub fn fail(&mut self, reason: String) {
        self.failure.get_or_insert(reason);
    }

    /// Returns the reason the protocol stopped early, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Counts the bytes of a client's secure frame for round `round`;
    /// frames of other rounds are not this round's cost.
    pub fn count_up(&mut self, round: u32, message: &ClientMessage, frame_bytes: u64) {
        match message {
            ClientMessage::Secure(reply) if reply.round() != round => {}
            ClientMessage::Secure(SecureReply::MaskedInput { .. }) => {
                self.masked_bytes += frame_bytes;
            }
            ClientMessage::Secure(_) => self.protocol_bytes += frame_bytes,
            _ => {}
        }
    }

    /// Takes a client's reply to the current phase.
    pub fn receive(&mut self, client_id: &str, reply: SecureReply) -> Result<(), Rejection> {
        let slot = *self.slots.get(client_id).ok_or_else(|| {
            Rejection::new(
                ErrorCode::NotSampled,
                format!("secure message rejected: client {client_id} has no slot in this round"),
            )
        })?;
        let report = match &reply {
            SecureReply::MaskedInput { report, .. } => Some(report.clone()),
            _ => None,
        };
        if let Some(report) = &report
            && !report.train_loss.is_finite()
        {
            return Err(Rejection::new(
                ErrorCode::NonFinite,
                format!(
                    "secure message rejected: train loss is {}",
                    report.train_loss
                ),
            ));
        }
        let received = match &mut self.engine {
            Engine::Masking(server) => server.receive(slot, reply),
            Engine::TwoServer(aggregator, None) => aggregator.receive(slot, reply),
            Engine::TwoServer(_, Some(_)) => Err(SecAggError::Protocol(
                "the round's inputs are closed".into(),
            )),
        };
        received.map_err(|err| {
            Rejection::new(
                ErrorCode::SecureProtocol,
                format!("secure message rejected: {err}"),
            )
        })?;
        if let Some(report) = report {
            self.reports.insert(slot, report);
        }
        Ok(())
    }

    /// Closes the current phase; returns the next phase's requests by
    /// client id.
    pub fn advance(&mut self) -> Result<Vec<(String, SecureRequest)>, SecAggError> {
        let Engine::Masking(server) = &mut self.engine else {
            return Ok(Vec::new());
        };
        let requests = server.advance()?;
        Ok(requests
            .into_iter()
            .filter_map(|(slot, request)| self.ids.get(&slot).map(|id| (id.clone(), request)))
            .collect())
    }

    /// Unmasks and decodes the sum.
    pub fn finish(&mut self) -> Result<SecureOutcome, SecAggError> {
        let (sum, participation) = match &mut self.engine {
            Engine::Masking(server) => server.finish()?,
            Engine::TwoServer(aggregator, Some(mask_sum)) => aggregator.finish(mask_sum)?,
            Engine::TwoServer(_, None) => {
                return Err(SecAggError::Protocol(
                    "the mask server's sum never arrived".into(),
                ));
            }
        };
        let decoded: Decoded = match &self.noise {
            Some((noise, expected)) => noised_sum(
                &sum,
                self.params.len,
                self.params.ring_bits,
                noise,
                *expected,
            )?,
            None => FixedPoint::new(&self.params).decode(&sum, self.params.len)?,
        };
        let mean = decoded
            .mean()
            .ok_or_else(|| SecAggError::BadInput("the survivors' weights sum to 0".to_owned()))?;
        let survivors: Vec<String> = self
            .reports
            .keys()
            .filter_map(|slot| self.ids.get(slot).cloned())
            .collect();
        let losses: Vec<f64> = self.reports.values().map(|r| r.train_loss).collect();
        let train_loss =
            (!losses.is_empty()).then(|| losses.iter().sum::<f64>() / losses.len() as f64);
        Ok(SecureOutcome {
            mean,
            total_weight: decoded.total_weight,
            clipped: decoded.clipped,
            participation,
            survivors,
            train_loss,
        })
    }

    /// Returns the round's entry in the metrics, for a completed or aborted
    /// round.
    pub fn metrics(&self, outcome: Option<&SecureOutcome>) -> SecAggRound {
        SecAggRound {
            protocol: self.protocol().to_owned(),
            clients: self.params.clients as usize,
            survivors: outcome.map_or(self.reports.len(), |o| o.participation.survivors),
            recovered: outcome.map_or(0, |o| o.participation.recovered),
            aborted: outcome.is_none(),
            clipped_values: outcome.map_or(0, |o| o.clipped),
            protocol_bytes: self.protocol_bytes,
            masked_bytes: self.masked_bytes,
        }
    }
}

/// Decodes a sum of distributed-noise vectors: the signed integers over γ,
/// laid out so that `Decoded::mean` divides by the expected cohort q·N
/// (DP-FedAvg), not by the survivors.
fn noised_sum(
    sum: &[u64],
    len: usize,
    ring_bits: u8,
    noise: &SkellamNoise,
    expected: f64,
) -> Result<Decoded, SecAggError> {
    let ring = Ring::new(ring_bits)?;
    if sum.len() != len + 2 || !(expected.is_finite() && expected > 0.0) {
        return Err(SecAggError::BadInput(format!(
            "cannot decode a noised sum of {} elements for {len} values and {expected} expected clients",
            sum.len()
        )));
    }
    // `mean` divides by `total_weight`; scaling the sum by survivors / q·N
    // makes that division one by q·N.
    let survivors = sum[len].max(1);
    let factor = survivors as f64 / expected;
    Ok(Decoded {
        sum: sum[..len]
            .iter()
            .map(|&value| ring.to_signed(value) as f64 / noise.scale * factor)
            .collect(),
        total_weight: survivors,
        clipped: 0,
    })
}
