//! The server side of SecAgg and SecAgg+: it collects each phase's
//! replies, routes the sealed shares it cannot read, and in the end
//! removes the masks of survivors and dropped clients from the sum. It
//! learns the sum of the survivors' inputs and nothing else.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use p256::Scalar;
use starling_proto::{
    PeerKeys, RevealedShare, SealedShares, SecureProtocol, SecureReply, SecureRequest,
};

use crate::SecAggError;
use crate::client::{mask_label, pair_sign, secret_key, self_mask_seed};
use crate::graph::Graph;
use crate::keys::{self, KeyPair, PublicKey};
use crate::params::SecureParams;
use crate::prg::{self, Sign};
use crate::ring::Ring;
use crate::shamir::{self, Lagrange};

/// The phase whose replies the server is collecting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerPhase {
    /// Public keys.
    AdvertiseKeys,
    /// Sealed share bundles.
    ShareKeys,
    /// Masked inputs.
    MaskedInput,
    /// Revealed shares.
    Unmask,
    /// The sum was computed or the round aborted.
    Done,
}

impl ServerPhase {
    /// The phase's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::AdvertiseKeys => "advertise-keys",
            Self::ShareKeys => "share-keys",
            Self::MaskedInput => "masked-input",
            Self::Unmask => "unmask",
            Self::Done => "done",
        }
    }
}

/// Who took part in each phase, for the round's metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Participation {
    /// Clients that advertised keys (U1).
    pub advertised: usize,
    /// Clients that shared keys (U2).
    pub shared: usize,
    /// Clients whose masked input arrived (U3): the survivors.
    pub survivors: usize,
    /// Clients that revealed shares (U4).
    pub revealed: usize,
    /// Clients dropped after sharing keys whose masks were removed by
    /// reconstructing their secret keys.
    pub recovered: usize,
    /// Secrets reconstructed (mask seeds and secret keys).
    pub reconstructions: usize,
}

/// The shares one client revealed, by owner.
#[derive(Default)]
struct Reveal {
    /// Shares of survivors' mask seeds.
    seeds: BTreeMap<u32, Scalar>,
    /// Shares of dropped clients' secret keys.
    keys: BTreeMap<u32, Scalar>,
}

struct Advertised {
    enc_key: Vec<u8>,
    mask_key: Vec<u8>,
    mask: PublicKey,
}

/// The server's state in one SecAgg or SecAgg+ round.
pub struct MaskingServer {
    params: SecureParams,
    round: u32,
    ring: Ring,
    phase: ServerPhase,
    graph_seed: u64,
    graph: Option<Graph>,
    keys: BTreeMap<u32, Advertised>,
    bundles: BTreeMap<u32, Vec<SealedShares>>,
    /// Slots whose masked input arrived (the survivors).
    masked: BTreeSet<u32>,
    /// Running sum of their masked inputs, wrapping in `u64`.
    masked_sum: Vec<u64>,
    reveals: BTreeMap<u32, Reveal>,
    requested: BTreeMap<u32, (BTreeSet<u32>, BTreeSet<u32>)>,
}

impl std::fmt::Debug for MaskingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskingServer")
            .field("round", &self.round)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl MaskingServer {
    /// Opens a round after checking `params`; `graph_seed` draws the
    /// SecAgg+ graph.
    pub fn new(params: SecureParams, round: u32, graph_seed: u64) -> Result<Self, SecAggError> {
        params.check()?;
        if params.protocol == SecureProtocol::TwoServer {
            return Err(SecAggError::Params(
                "the two-server protocol needs no masking server".into(),
            ));
        }
        Ok(Self {
            ring: Ring::new(params.ring_bits)?,
            params,
            round,
            phase: ServerPhase::AdvertiseKeys,
            graph_seed,
            graph: None,
            keys: BTreeMap::new(),
            bundles: BTreeMap::new(),
            masked: BTreeSet::new(),
            masked_sum: Vec::new(),
            reveals: BTreeMap::new(),
            requested: BTreeMap::new(),
        })
    }

    /// The phase being collected.
    pub fn phase(&self) -> ServerPhase {
        self.phase
    }

    /// Slots whose reply to the current phase arrived.
    pub fn replied(&self) -> BTreeSet<u32> {
        match self.phase {
            ServerPhase::AdvertiseKeys => self.keys.keys().copied().collect(),
            ServerPhase::ShareKeys => self.bundles.keys().copied().collect(),
            ServerPhase::MaskedInput => self.masked.clone(),
            ServerPhase::Unmask => self.reveals.keys().copied().collect(),
            ServerPhase::Done => BTreeSet::new(),
        }
    }

    /// Slots expected to reply in the current phase: those that got its
    /// request.
    pub fn expected(&self) -> BTreeSet<u32> {
        match self.phase {
            ServerPhase::AdvertiseKeys => (1..=self.params.clients).collect(),
            ServerPhase::ShareKeys => self.keys.keys().copied().collect(),
            ServerPhase::MaskedInput => self.bundles.keys().copied().collect(),
            ServerPhase::Unmask => self.requested.keys().copied().collect(),
            ServerPhase::Done => BTreeSet::new(),
        }
    }

    /// True when every client expected in this phase replied.
    pub fn phase_complete(&self) -> bool {
        self.replied().len() >= self.expected().len()
    }

    /// Takes one client's reply to the current phase. A reply for another
    /// round or phase, a repeated reply or a malformed one is refused and
    /// changes nothing.
    pub fn receive(&mut self, slot: u32, reply: SecureReply) -> Result<(), SecAggError> {
        if reply.round() != self.round {
            return Err(SecAggError::Protocol(format!(
                "{} message for round {} arrived in round {}",
                reply.phase(),
                reply.round(),
                self.round
            )));
        }
        if reply.phase() != self.phase.name() {
            return Err(SecAggError::Protocol(format!(
                "{} message arrived while the server collects {}",
                reply.phase(),
                self.phase.name()
            )));
        }
        if !self.expected().contains(&slot) {
            return Err(SecAggError::Protocol(format!(
                "slot {slot} is not part of the {} phase",
                self.phase.name()
            )));
        }
        if self.replied().contains(&slot) {
            return Err(SecAggError::Protocol(format!(
                "slot {slot} already replied in the {} phase",
                self.phase.name()
            )));
        }
        match reply {
            SecureReply::AdvertiseKeys {
                enc_key, mask_key, ..
            } => {
                keys::parse_public(&enc_key, slot)?;
                let mask = keys::parse_public(&mask_key, slot)?;
                self.keys.insert(
                    slot,
                    Advertised {
                        enc_key,
                        mask_key,
                        mask,
                    },
                );
            }
            SecureReply::ShareKeys { shares, .. } => self.take_bundles(slot, shares)?,
            SecureReply::MaskedInput { masked, .. } => {
                if self.masked_sum.is_empty() {
                    self.masked_sum = vec![0; self.params.len + 2];
                }
                self.ring.add_packed(&mut self.masked_sum, &masked)?;
                self.masked.insert(slot);
            }
            SecureReply::Unmask {
                seed_shares,
                key_shares,
                ..
            } => self.take_reveal(slot, seed_shares, key_shares)?,
        }
        Ok(())
    }

    fn take_bundles(&mut self, slot: u32, shares: Vec<SealedShares>) -> Result<(), SecAggError> {
        let graph = self.graph.as_ref().ok_or_else(|| {
            SecAggError::Protocol("share bundles arrived before the graph was drawn".into())
        })?;
        let expected: BTreeSet<u32> = graph
            .of(slot)
            .filter(|peer| self.keys.contains_key(peer))
            .collect();
        let mut seen = BTreeSet::new();
        for bundle in &shares {
            if bundle.from != slot || !expected.contains(&bundle.to) || !seen.insert(bundle.to) {
                return Err(SecAggError::Protocol(format!(
                    "slot {slot} sent a share bundle from {} to {}, which is not one of its \
                     neighbours or is repeated",
                    bundle.from, bundle.to
                )));
            }
        }
        if seen != expected {
            return Err(SecAggError::Protocol(format!(
                "slot {slot} sent {} share bundles for its {} neighbours",
                seen.len(),
                expected.len()
            )));
        }
        self.bundles.insert(slot, shares);
        Ok(())
    }

    fn take_reveal(
        &mut self,
        slot: u32,
        seed_shares: Vec<RevealedShare>,
        key_shares: Vec<RevealedShare>,
    ) -> Result<(), SecAggError> {
        let (survivors, dropped) = &self.requested[&slot];
        let parse = |shares: Vec<RevealedShare>, allowed: &BTreeSet<u32>| {
            let mut out = BTreeMap::new();
            for revealed in shares {
                if !allowed.contains(&revealed.owner) {
                    return Err(SecAggError::Protocol(format!(
                        "slot {slot} revealed a share of slot {} that was not requested",
                        revealed.owner
                    )));
                }
                let share = shamir::from_bytes(&revealed.share).ok_or(SecAggError::BadShare {
                    owner: revealed.owner,
                })?;
                if out.insert(revealed.owner, share).is_some() {
                    return Err(SecAggError::Protocol(format!(
                        "slot {slot} revealed two shares of slot {}",
                        revealed.owner
                    )));
                }
            }
            Ok(out)
        };
        let seeds = parse(seed_shares, survivors)?;
        let keys = parse(key_shares, dropped)?;
        self.reveals.insert(slot, Reveal { seeds, keys });
        Ok(())
    }

    /// Closes the current phase with the replies that arrived and returns
    /// the next phase's request for each slot that takes part. Fails, and
    /// aborts the round, when fewer than the threshold replied.
    pub fn advance(&mut self) -> Result<BTreeMap<u32, SecureRequest>, SecAggError> {
        let result = match self.phase {
            ServerPhase::AdvertiseKeys => self.close_advertise(),
            ServerPhase::ShareKeys => self.close_shares(),
            ServerPhase::MaskedInput => self.close_masked(),
            ServerPhase::Unmask | ServerPhase::Done => Err(SecAggError::Protocol(format!(
                "no phase follows {}; call finish",
                self.phase.name()
            ))),
        };
        if result.is_err() {
            self.phase = ServerPhase::Done;
        }
        result
    }

    fn at_least_threshold(&self, phase: &'static str, have: usize) -> Result<(), SecAggError> {
        let need = self.params.threshold as usize;
        if have < need {
            return Err(SecAggError::BelowThreshold { phase, have, need });
        }
        Ok(())
    }

    fn close_advertise(&mut self) -> Result<BTreeMap<u32, SecureRequest>, SecAggError> {
        self.at_least_threshold("advertise-keys", self.keys.len())?;
        let slots: Vec<u32> = self.keys.keys().copied().collect();
        let graph = match self.params.protocol {
            SecureProtocol::SecAggPlus => {
                Graph::regular(&slots, self.params.neighbours, self.graph_seed)
            }
            _ => Graph::complete(&slots),
        };
        let requests = slots
            .iter()
            .map(|&slot| {
                let peers = graph
                    .of(slot)
                    .map(|peer| PeerKeys {
                        slot: peer,
                        enc_key: self.keys[&peer].enc_key.clone(),
                        mask_key: self.keys[&peer].mask_key.clone(),
                    })
                    .collect();
                (
                    slot,
                    SecureRequest::ShareKeys {
                        round: self.round,
                        peers,
                    },
                )
            })
            .collect();
        self.graph = Some(graph);
        self.phase = ServerPhase::ShareKeys;
        Ok(requests)
    }

    fn close_shares(&mut self) -> Result<BTreeMap<u32, SecureRequest>, SecAggError> {
        self.at_least_threshold("share-keys", self.bundles.len())?;
        let mut inbox: BTreeMap<u32, Vec<SealedShares>> = self
            .bundles
            .keys()
            .map(|&slot| (slot, Vec::new()))
            .collect();
        for bundle in self.bundles.values().flatten() {
            if let Some(list) = inbox.get_mut(&bundle.to) {
                list.push(bundle.clone());
            }
        }
        self.phase = ServerPhase::MaskedInput;
        Ok(inbox
            .into_iter()
            .map(|(slot, shares)| {
                (
                    slot,
                    SecureRequest::MaskedInput {
                        round: self.round,
                        shares,
                    },
                )
            })
            .collect())
    }

    fn close_masked(&mut self) -> Result<BTreeMap<u32, SecureRequest>, SecAggError> {
        self.at_least_threshold("masked-input", self.masked.len())?;
        let floor = self.params.min_survivors as usize;
        if self.masked.len() < floor {
            return Err(SecAggError::BelowThreshold {
                phase: "masked-input",
                have: self.masked.len(),
                need: floor,
            });
        }
        let graph = self.graph.as_ref().ok_or_else(|| {
            SecAggError::Protocol("masked input closed before the graph was drawn".into())
        })?;
        let mut requests = BTreeMap::new();
        for &slot in self.masked.iter() {
            let mut survivors: BTreeSet<u32> = graph
                .of(slot)
                .filter(|peer| self.masked.contains(peer))
                .collect();
            survivors.insert(slot);
            let dropped: BTreeSet<u32> = graph
                .of(slot)
                .filter(|peer| self.bundles.contains_key(peer) && !self.masked.contains(peer))
                .collect();
            requests.insert(
                slot,
                SecureRequest::Unmask {
                    round: self.round,
                    survivors: survivors.iter().copied().collect(),
                    dropped: dropped.iter().copied().collect(),
                },
            );
            self.requested.insert(slot, (survivors, dropped));
        }
        self.phase = ServerPhase::Unmask;
        Ok(requests)
    }

    /// Reconstructs the survivors' mask seeds and the dropped clients'
    /// secret keys from the revealed shares, removes every mask and
    /// returns the sum of the survivors' inputs in the ring. Fails without
    /// revealing anything when a secret has fewer than threshold shares.
    pub fn finish(&mut self) -> Result<(Vec<u64>, Participation), SecAggError> {
        if self.phase != ServerPhase::Unmask {
            return Err(SecAggError::Protocol(format!(
                "finish called in the {} phase",
                self.phase.name()
            )));
        }
        self.phase = ServerPhase::Done;
        let graph = self
            .graph
            .as_ref()
            .ok_or_else(|| SecAggError::Protocol("no graph".into()))?;
        let threshold = self.params.threshold as usize;
        let mut lagrange: HashMap<Vec<u32>, Lagrange> = HashMap::new();
        let mut reconstruct = |owner: u32, pick: fn(&Reveal) -> &BTreeMap<u32, Scalar>| {
            let shares: Vec<(u32, Scalar)> = self
                .reveals
                .iter()
                .filter_map(|(&holder, reveal)| pick(reveal).get(&owner).map(|s| (holder, *s)))
                .take(threshold)
                .collect();
            if shares.len() < threshold {
                return Err(SecAggError::BelowThreshold {
                    phase: "unmask",
                    have: shares.len(),
                    need: threshold,
                });
            }
            let slots: Vec<u32> = shares.iter().map(|(slot, _)| *slot).collect();
            let values: Vec<Scalar> = shares.iter().map(|(_, share)| *share).collect();
            if !lagrange.contains_key(&slots) {
                lagrange.insert(slots.clone(), Lagrange::at_zero(&slots)?);
            }
            Ok(lagrange[&slots].combine(&values))
        };
        // Reconstruct everything first, so that a shortfall aborts before
        // any mask is removed.
        let mut seeds = Vec::with_capacity(self.masked.len());
        for &slot in self.masked.iter() {
            seeds.push((slot, reconstruct(slot, |r| &r.seeds)?));
        }
        let dropped: Vec<u32> = self
            .bundles
            .keys()
            .copied()
            .filter(|slot| !self.masked.contains(slot))
            .filter(|&slot| graph.of(slot).any(|peer| self.masked.contains(&peer)))
            .collect();
        let mut secrets = Vec::with_capacity(dropped.len());
        for &slot in &dropped {
            let scalar = reconstruct(slot, |r| &r.keys)?;
            let mismatch = || {
                SecAggError::Protocol(format!(
                    "the shares of slot {slot}'s secret key do not match its advertised key"
                ))
            };
            let key = KeyPair::from_secret(secret_key(&scalar).ok_or_else(mismatch)?)?;
            if key.public() != self.keys[&slot].mask_key.as_slice() {
                return Err(mismatch());
            }
            secrets.push((slot, key));
        }

        let mut sum = std::mem::take(&mut self.masked_sum);
        let mut masks: Vec<([u8; 32], Sign)> = seeds
            .iter()
            .map(|(slot, seed)| (self_mask_seed(seed, self.round, *slot), Sign::Sub))
            .collect();
        for (dropped_slot, key) in &secrets {
            for survivor in graph.of(*dropped_slot).filter(|p| self.masked.contains(p)) {
                let pair_seed = key.agree(
                    &self.keys[&survivor].mask,
                    &mask_label(self.round, survivor, *dropped_slot),
                )?;
                // The survivor applied `pair_sign(survivor, dropped)`; undo it.
                let undo = match pair_sign(survivor, *dropped_slot) {
                    Sign::Add => Sign::Sub,
                    Sign::Sub => Sign::Add,
                };
                masks.push((pair_seed, undo));
            }
        }
        prg::apply_all(self.ring, &masks, &mut sum);
        self.ring.reduce(&mut sum);
        let participation = Participation {
            advertised: self.keys.len(),
            shared: self.bundles.len(),
            survivors: self.masked.len(),
            revealed: self.reveals.len(),
            recovered: self.bundles.len() - self.masked.len(),
            reconstructions: seeds.len() + secrets.len(),
        };
        Ok((sum, participation))
    }
}
