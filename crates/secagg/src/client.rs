//! The client side of SecAgg and SecAgg+: one state machine per round that
//! advertises keys, shares its secrets, masks its input and, at the end,
//! reveals exactly one secret per neighbour.

use std::collections::{BTreeMap, BTreeSet};

use p256::elliptic_curve::PrimeField;
use p256::{Scalar, SecretKey};
use starling_proto::{
    PeerKeys, RevealedShare, SealedShares, SecureReply, SecureRequest, SecureSetup,
};

use crate::fixed::FixedPoint;
use crate::keys::{self, KeyPair, PublicKey};
use crate::prg::{self, Sign};
use crate::ring::Ring;
use crate::{SecAggError, random, seal, shamir};

/// The protocol phase a client has reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientPhase {
    /// Keys advertised; waiting for the neighbours' keys.
    Advertised,
    /// Shares sent; waiting for the neighbours' shares.
    Shared,
    /// Masked input sent; waiting for the unmasking request.
    Masked,
    /// Shares revealed; the round is over for this client.
    Done,
}

impl ClientPhase {
    fn name(self) -> &'static str {
        match self {
            Self::Advertised => "advertise-keys",
            Self::Shared => "share-keys",
            Self::Masked => "masked-input",
            Self::Done => "unmask",
        }
    }
}

struct Peer {
    enc: PublicKey,
    mask: PublicKey,
    /// The key agreed for the bundle this peer sends, derived while
    /// sharing keys so that the agreement runs once per peer.
    inbound: [u8; 32],
}

/// One client's state in one secure round.
pub struct MaskingClient {
    round: u32,
    slot: u32,
    clients: u32,
    threshold: usize,
    ring: Ring,
    enc: KeyPair,
    mask: KeyPair,
    seed: Scalar,
    input: Input,
    /// Values clipped when an update input was quantized.
    clipped: Option<u64>,
    phase: ClientPhase,
    peers: BTreeMap<u32, Peer>,
    /// Shares held, by owner: (mask-seed share, secret-key share). The
    /// client's own pair is included.
    held: BTreeMap<u32, (Scalar, Scalar)>,
}

impl std::fmt::Debug for MaskingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskingClient")
            .field("round", &self.round)
            .field("slot", &self.slot)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// Label of the share-bundle key and its associated data.
pub(crate) fn share_label(round: u32, from: u32, to: u32) -> Vec<u8> {
    keys::label("share", round, &[from, to])
}

/// Label of the pairwise mask between two slots (symmetric).
pub(crate) fn mask_label(round: u32, a: u32, b: u32) -> Vec<u8> {
    keys::label("pair-mask", round, &[a.min(b), a.max(b)])
}

/// The PRG seed of a client's self mask.
pub(crate) fn self_mask_seed(seed: &Scalar, round: u32, slot: u32) -> [u8; 32] {
    keys::derive(
        &shamir::to_bytes(seed),
        &keys::label("self-mask", round, &[slot]),
    )
}

/// The sign of the pairwise mask in `slot`'s input: the lower slot adds,
/// the higher subtracts.
pub(crate) fn pair_sign(slot: u32, peer: u32) -> Sign {
    if slot < peer { Sign::Add } else { Sign::Sub }
}

/// The input a client masks.
enum Input {
    /// An update, quantized only when the masked input is due, straight
    /// into the buffer that is masked and sent.
    Update {
        values: Vec<f32>,
        fixed: FixedPoint,
        weight: u64,
        seed: u64,
    },
    /// Ring elements already packed as `Ring::pack` lays them out.
    Packed(Vec<u8>),
}

impl MaskingClient {
    /// Starts a round with an encoded input (see `FixedPoint::encode`);
    /// returns the state and the key advertisement to send.
    pub fn new(
        setup: &SecureSetup,
        round: u32,
        input: Vec<u64>,
    ) -> Result<(Self, SecureReply), SecAggError> {
        let ring = Ring::new(setup.ring_bits)?;
        Self::with_packed(setup, round, ring.pack(&input))
    }

    /// Starts a round like [`MaskingClient::new`], with the input already
    /// packed (see `FixedPoint::encode_packed`).
    pub fn with_packed(
        setup: &SecureSetup,
        round: u32,
        input: Vec<u8>,
    ) -> Result<(Self, SecureReply), SecAggError> {
        let ring = Ring::new(setup.ring_bits)?;
        if !input.len().is_multiple_of(ring.element_bytes()) {
            return Err(SecAggError::BadInput(format!(
                "{} bytes are not a whole number of {}-byte elements",
                input.len(),
                ring.element_bytes()
            )));
        }
        Self::start(setup, round, Input::Packed(input))
    }

    /// Starts a round with the update itself: it is quantized with `fixed`
    /// (see `FixedPoint::encode_packed`, with `weight` and the rounding
    /// `seed`) when the masked input is due. Until then the client holds
    /// only the update, and the buffer it masks and sends is written once.
    /// Non-finite values are refused here, before any key is advertised.
    pub fn with_update(
        setup: &SecureSetup,
        round: u32,
        values: Vec<f32>,
        fixed: FixedPoint,
        weight: u64,
        seed: u64,
    ) -> Result<(Self, SecureReply), SecAggError> {
        // A pass without early exit, which runs on vector registers; the
        // position is found only on failure.
        let finite = values
            .iter()
            .fold(true, |all, value| all & value.is_finite());
        if !finite
            && let Some((index, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite())
        {
            return Err(SecAggError::NonFinite {
                index,
                value: *value,
            });
        }
        let input = Input::Update {
            values,
            fixed,
            weight,
            seed,
        };
        Self::start(setup, round, input)
    }

    fn start(
        setup: &SecureSetup,
        round: u32,
        input: Input,
    ) -> Result<(Self, SecureReply), SecAggError> {
        let ring = Ring::new(setup.ring_bits)?;
        if setup.slot == 0 || setup.slot > setup.clients {
            return Err(SecAggError::Protocol(format!(
                "slot {} is outside 1..={}",
                setup.slot, setup.clients
            )));
        }
        let enc = KeyPair::generate()?;
        let mask = KeyPair::generate()?;
        let advert = SecureReply::AdvertiseKeys {
            round,
            enc_key: enc.public().to_vec(),
            mask_key: mask.public().to_vec(),
        };
        let client = Self {
            round,
            slot: setup.slot,
            clients: setup.clients,
            threshold: setup.threshold as usize,
            ring,
            enc,
            mask,
            seed: random::scalar()?,
            input,
            clipped: None,
            phase: ClientPhase::Advertised,
            peers: BTreeMap::new(),
            held: BTreeMap::new(),
        };
        Ok((client, advert))
    }

    /// Values clipped to the range when the update was quantized: known
    /// once the masked input was made, and `None` for a packed input.
    pub fn clipped(&self) -> Option<u64> {
        self.clipped
    }

    /// Current phase.
    pub fn phase(&self) -> ClientPhase {
        self.phase
    }

    /// Round of this state.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Answers the server's request for the next phase.
    pub fn on_request(&mut self, request: SecureRequest) -> Result<SecureReply, SecAggError> {
        if request.round() != self.round {
            return Err(SecAggError::Protocol(format!(
                "request for round {} while in round {}",
                request.round(),
                self.round
            )));
        }
        match (self.phase, request) {
            (ClientPhase::Advertised, SecureRequest::ShareKeys { peers, .. }) => {
                self.share_keys(peers)
            }
            (ClientPhase::Shared, SecureRequest::MaskedInput { shares, .. }) => {
                self.masked_input(shares)
            }
            (
                ClientPhase::Masked,
                SecureRequest::Unmask {
                    survivors, dropped, ..
                },
            ) => self.unmask(&survivors, &dropped),
            (phase, request) => Err(SecAggError::Protocol(format!(
                "unexpected {} request after the {} phase",
                request_name(&request),
                phase.name()
            ))),
        }
    }

    fn share_keys(&mut self, peers: Vec<PeerKeys>) -> Result<SecureReply, SecAggError> {
        let mut parsed = BTreeMap::new();
        for peer in peers {
            if peer.slot == self.slot || peer.slot == 0 || peer.slot > self.clients {
                return Err(SecAggError::Protocol(format!(
                    "neighbour slot {} is invalid for slot {} of {}",
                    peer.slot, self.slot, self.clients
                )));
            }
            let keys = Peer {
                enc: keys::parse_public(&peer.enc_key, peer.slot)?,
                mask: keys::parse_public(&peer.mask_key, peer.slot)?,
                inbound: [0; 32],
            };
            if parsed.insert(peer.slot, keys).is_some() {
                return Err(SecAggError::Protocol(format!(
                    "neighbour slot {} listed twice",
                    peer.slot
                )));
            }
        }
        let holders: Vec<u32> = parsed
            .keys()
            .copied()
            .chain(std::iter::once(self.slot))
            .collect();
        if holders.len() < self.threshold {
            return Err(SecAggError::BelowThreshold {
                phase: "share-keys",
                have: holders.len(),
                need: self.threshold,
            });
        }
        let secret = *self.mask.secret().to_nonzero_scalar().as_ref();
        let seed_shares = shamir::split(&self.seed, self.threshold, &holders)?;
        let key_shares = shamir::split(&secret, self.threshold, &holders)?;
        let mut sealed = Vec::with_capacity(parsed.len());
        for ((&to, seed_share), key_share) in holders.iter().zip(&seed_shares).zip(&key_shares) {
            if to == self.slot {
                self.held.insert(to, (*seed_share, *key_share));
                continue;
            }
            let mut plaintext = Vec::with_capacity(64);
            plaintext.extend_from_slice(&shamir::to_bytes(seed_share));
            plaintext.extend_from_slice(&shamir::to_bytes(key_share));
            let label = share_label(self.round, self.slot, to);
            let peer = parsed
                .get_mut(&to)
                .ok_or_else(|| SecAggError::Protocol(format!("no keys for slot {to}")))?;
            let [outbound, inbound] =
                self.enc
                    .agree_pair(&peer.enc, &label, &share_label(self.round, to, self.slot))?;
            peer.inbound = inbound;
            let key = outbound;
            sealed.push(SealedShares {
                from: self.slot,
                to,
                ciphertext: seal::seal(&key, &label, &plaintext),
            });
        }
        self.peers = parsed;
        self.phase = ClientPhase::Shared;
        Ok(SecureReply::ShareKeys {
            round: self.round,
            shares: sealed,
        })
    }

    fn masked_input(&mut self, bundles: Vec<SealedShares>) -> Result<SecureReply, SecAggError> {
        for bundle in bundles {
            let from = bundle.from;
            if bundle.to != self.slot || !self.peers.contains_key(&from) {
                return Err(SecAggError::Protocol(format!(
                    "a share bundle from slot {from} to slot {} is not for a neighbour of slot {}",
                    bundle.to, self.slot
                )));
            }
            if self.held.contains_key(&from) {
                return Err(SecAggError::Protocol(format!(
                    "two share bundles from slot {from}"
                )));
            }
            let label = share_label(self.round, from, self.slot);
            let key = self.peers[&from].inbound;
            let plaintext = seal::open(&key, &label, &bundle.ciphertext)
                .ok_or_else(|| seal::bad(from, self.slot))?;
            if plaintext.len() != 64 {
                return Err(seal::bad(from, self.slot));
            }
            let seed_share = shamir::from_bytes(&plaintext[..32])
                .ok_or(SecAggError::BadShare { owner: from })?;
            let key_share = shamir::from_bytes(&plaintext[32..])
                .ok_or(SecAggError::BadShare { owner: from })?;
            self.held.insert(from, (seed_share, key_share));
        }
        if self.held.len() < self.threshold {
            return Err(SecAggError::BelowThreshold {
                phase: "masked-input",
                have: self.held.len(),
                need: self.threshold,
            });
        }
        let mut masked = match std::mem::replace(&mut self.input, Input::Packed(Vec::new())) {
            Input::Packed(bytes) => bytes,
            Input::Update {
                values,
                fixed,
                weight,
                seed,
            } => {
                let encoded = fixed.encode_packed(self.ring, &values, weight, seed)?;
                self.clipped = Some(encoded.clipped);
                encoded.bytes
            }
        };
        let mut masks = vec![(self_mask_seed(&self.seed, self.round, self.slot), Sign::Add)];
        for &peer in self.held.keys().filter(|&&peer| peer != self.slot) {
            let pair_seed = self.mask.agree(
                &self.peers[&peer].mask,
                &mask_label(self.round, self.slot, peer),
            )?;
            masks.push((pair_seed, pair_sign(self.slot, peer)));
        }
        prg::apply_all_packed(self.ring, &masks, &mut masked);
        self.phase = ClientPhase::Masked;
        Ok(SecureReply::MaskedInput {
            round: self.round,
            masked,
            mask_share: None,
            report: starling_proto::TrainingReport {
                local_steps: 0,
                train_loss: 0.0,
            },
        })
    }

    fn unmask(&mut self, survivors: &[u32], dropped: &[u32]) -> Result<SecureReply, SecAggError> {
        let alive: BTreeSet<u32> = survivors.iter().copied().collect();
        let gone: BTreeSet<u32> = dropped.iter().copied().collect();
        if alive.len() != survivors.len() || gone.len() != dropped.len() {
            return Err(SecAggError::Protocol("a slot is listed twice".into()));
        }
        if let Some(both) = alive.intersection(&gone).next() {
            return Err(SecAggError::Protocol(format!(
                "the server asked for both the mask seed and the secret key of slot {both}; \
                 an honest client reveals only one"
            )));
        }
        if !alive.contains(&self.slot) {
            return Err(SecAggError::Protocol(format!(
                "slot {} sent its masked input but is not listed as a survivor",
                self.slot
            )));
        }
        let listed: BTreeSet<u32> = alive.union(&gone).copied().collect();
        let held: BTreeSet<u32> = self.held.keys().copied().collect();
        if listed != held {
            return Err(SecAggError::Protocol(format!(
                "the unmasking request lists slots {listed:?}, but this client holds shares of {held:?}"
            )));
        }
        if alive.len() < self.threshold {
            return Err(SecAggError::BelowThreshold {
                phase: "unmask",
                have: alive.len(),
                need: self.threshold,
            });
        }
        let reveal = |owners: &BTreeSet<u32>, pick: fn(&(Scalar, Scalar)) -> Scalar| {
            owners
                .iter()
                .map(|&owner| RevealedShare {
                    owner,
                    share: shamir::to_bytes(&pick(&self.held[&owner])).to_vec(),
                })
                .collect()
        };
        let reply = SecureReply::Unmask {
            round: self.round,
            seed_shares: reveal(&alive, |pair| pair.0),
            key_shares: reveal(&gone, |pair| pair.1),
        };
        self.phase = ClientPhase::Done;
        Ok(reply)
    }
}

fn request_name(request: &SecureRequest) -> &'static str {
    match request {
        SecureRequest::ShareKeys { .. } => "share-keys",
        SecureRequest::MaskedInput { .. } => "masked-input",
        SecureRequest::Unmask { .. } => "unmask",
    }
}

/// The secret key whose scalar is `scalar`, if it is a valid one.
pub(crate) fn secret_key(scalar: &Scalar) -> Option<SecretKey> {
    SecretKey::from_bytes(&scalar.to_repr()).ok()
}
