//! Secure aggregation inside a round: each sampled client gets a slot, the
//! masking server runs the protocol's phases over the clients' replies, and
//! the unmasked sum is decoded into the round's mean update. The
//! coordinator only ever holds masked vectors and the final sum.

use std::collections::{BTreeMap, BTreeSet};

use starling_proto::{
    ClientMessage, ErrorCode, SecureReply, SecureRequest, SecureSetup, TrainingReport,
};
use starling_runlog::SecAggRound;
use starling_secagg::{
    Decoded, FixedPoint, MaskingServer, Participation, SecAggError, SecureParams,
};

use super::round::Rejection;

/// A secure round's state on the server.
#[derive(Debug)]
pub struct SecureRound {
    params: SecureParams,
    slots: BTreeMap<String, u32>,
    ids: BTreeMap<u32, String>,
    server: MaskingServer,
    reports: BTreeMap<u32, TrainingReport>,
    /// Bytes of key advertisements, share bundles, requests and revealed
    /// shares, both directions: what the protocol adds to the updates.
    pub protocol_bytes: u64,
    /// Bytes of the masked inputs.
    pub masked_bytes: u64,
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
    ) -> Result<Self, SecAggError> {
        let slots: BTreeMap<String, u32> = sampled.iter().cloned().zip(1u32..).collect();
        let ids = slots.iter().map(|(id, slot)| (*slot, id.clone())).collect();
        Ok(Self {
            server: MaskingServer::new(params.clone(), round, graph_seed)?,
            params,
            slots,
            ids,
            reports: BTreeMap::new(),
            protocol_bytes: 0,
            masked_bytes: 0,
        })
    }

    /// The setup sent with `client_id`'s task.
    pub fn setup(&self, client_id: &str) -> Option<SecureSetup> {
        self.slots
            .get(client_id)
            .map(|&slot| self.params.setup(slot, None))
    }

    /// The protocol's name.
    pub fn protocol(&self) -> &'static str {
        self.params.protocol.as_str()
    }

    /// The phase being collected, for logs.
    pub fn phase(&self) -> &'static str {
        self.server.phase().name()
    }

    /// True when every client expected in the current phase replied.
    pub fn phase_complete(&self) -> bool {
        self.server.phase_complete()
    }

    /// Counts the bytes of a client's secure frame.
    pub fn count_up(&mut self, message: &ClientMessage, frame_bytes: u64) {
        match message {
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
        self.server.receive(slot, reply).map_err(|err| {
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
        let requests = self.server.advance()?;
        Ok(requests
            .into_iter()
            .filter_map(|(slot, request)| self.ids.get(&slot).map(|id| (id.clone(), request)))
            .collect())
    }

    /// Unmasks and decodes the sum.
    pub fn finish(&mut self) -> Result<SecureOutcome, SecAggError> {
        let (sum, participation) = self.server.finish()?;
        let fixed = FixedPoint::new(&self.params);
        let decoded: Decoded = fixed.decode(&sum, self.params.len)?;
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

    /// The round's entry in the metrics, for a completed or aborted round.
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
