//! The two-server variant: a client splits its encoded input x into two
//! additive shares modulo 2^b, `x − r` for the aggregator and `r` for the
//! mask server, where r is expanded from a fresh 32-byte seed. The seed
//! travels through the aggregator sealed to the mask server's key (ECDH
//! with an ephemeral key, HKDF, AES-256-GCM), so the aggregator cannot
//! read it. Each server sums its shares; only the two sums together give
//! the total. Nothing is lost when a client drops: the aggregator asks for
//! the mask sum of exactly the clients whose shares it holds.

use std::collections::{BTreeMap, BTreeSet};

use starling_proto::{SecureProtocol, SecureReply};

use crate::keys::{self, KeyPair};
use crate::params::SecureParams;
use crate::prg::{self, Sign};
use crate::ring::Ring;
use crate::server::Participation;
use crate::{SecAggError, random, seal};

/// Bytes of an uncompressed SEC1 public key, the prefix of a sealed seed.
const EPHEMERAL_KEY_LEN: usize = 65;

fn seed_label(round: u32, slot: u32) -> Vec<u8> {
    keys::label("mask-server-seed", round, &[slot])
}

/// Subtracts a fresh random mask from `packed`, an input packed as
/// [`Ring::pack`] lays it out (in place, reduced), and returns the mask's
/// seed sealed to the mask server's public key.
pub fn split(
    ring: Ring,
    packed: &mut [u8],
    mask_server_key: &[u8],
    round: u32,
    slot: u32,
) -> Result<Vec<u8>, SecAggError> {
    if !packed.len().is_multiple_of(ring.element_bytes()) {
        return Err(SecAggError::BadInput(format!(
            "{} bytes are not a whole number of {}-byte elements",
            packed.len(),
            ring.element_bytes()
        )));
    }
    let server = keys::parse_public(mask_server_key, 0)?;
    let mut seed = [0u8; 32];
    random::fill(&mut seed)?;
    prg::apply_all_packed(ring, &[(seed, Sign::Sub)], packed);
    let ephemeral = KeyPair::generate()?;
    let label = seed_label(round, slot);
    let key = ephemeral.agree(&server, &label)?;
    let mut sealed = ephemeral.public().to_vec();
    sealed.extend_from_slice(&seal::seal(&key, &label, &seed));
    Ok(sealed)
}

/// Maximum length of a vector a mask server sums: 2^26 elements (512 MiB
/// of `u64`).
pub const MAX_MASK_LEN: usize = 1 << 26;

/// The mask server's side: its key pair, the rounds it has answered and
/// the sealed seeds it has used.
#[derive(Debug)]
pub struct MaskServer {
    key: KeyPair,
    min_clients: usize,
    answered: BTreeSet<(String, u32)>,
    /// Ephemeral keys of every sealed seed already summed. A seed counts in
    /// one sum only, whatever run id or round a request names, so sums of
    /// overlapping sets cannot be subtracted to isolate one client.
    used: BTreeSet<Vec<u8>>,
}

impl MaskServer {
    /// Creates a mask server with a fresh key that rejects sums over fewer
    /// than `min_clients` clients.
    pub fn new(min_clients: usize) -> Result<Self, SecAggError> {
        Ok(Self {
            key: KeyPair::generate()?,
            min_clients: min_clients.max(2),
            answered: BTreeSet::new(),
            used: BTreeSet::new(),
        })
    }

    /// Returns the public key clients seal their seeds to.
    pub fn public_key(&self) -> &[u8] {
        self.key.public()
    }

    /// Sums the masks of `shares` (slot, sealed seed) for one round of one
    /// run. Each round is answered once, and only over at least
    /// `min_clients` distinct clients, so the aggregator cannot isolate a
    /// client by asking for sums of different subsets.
    pub fn mask_sum(
        &mut self,
        run: &str,
        round: u32,
        ring: Ring,
        len: usize,
        shares: &[(u32, Vec<u8>)],
    ) -> Result<Vec<u64>, SecAggError> {
        let slots: BTreeSet<u32> = shares.iter().map(|(slot, _)| *slot).collect();
        if slots.len() != shares.len() {
            return Err(SecAggError::Protocol("a slot is listed twice".into()));
        }
        if slots.len() < self.min_clients {
            return Err(SecAggError::BelowThreshold {
                phase: "mask-sum",
                have: slots.len(),
                need: self.min_clients,
            });
        }
        if self.answered.contains(&(run.to_owned(), round)) {
            return Err(SecAggError::Protocol(format!(
                "round {round} of run {run} was already answered"
            )));
        }
        if len == 0 || len > MAX_MASK_LEN {
            return Err(SecAggError::Protocol(format!(
                "a mask sum of {len} elements is outside 1..={MAX_MASK_LEN}"
            )));
        }
        let mut seen = BTreeSet::new();
        for (slot, sealed) in shares {
            let ephemeral = sealed.get(..EPHEMERAL_KEY_LEN).unwrap_or(sealed).to_vec();
            if self.used.contains(&ephemeral) || !seen.insert(ephemeral) {
                return Err(SecAggError::Protocol(format!(
                    "the sealed seed of slot {slot} was already summed; each seed counts once"
                )));
            }
        }
        let mut sum = vec![0u64; len];
        for (slot, sealed) in shares {
            let seed = self.open(round, *slot, sealed)?;
            prg::apply(ring, &seed, Sign::Add, &mut sum);
        }
        ring.reduce(&mut sum);
        self.answered.insert((run.to_owned(), round));
        self.used.extend(seen);
        Ok(sum)
    }

    fn open(&self, round: u32, slot: u32, sealed: &[u8]) -> Result<[u8; 32], SecAggError> {
        let bad = || SecAggError::BadCiphertext { from: slot, to: 0 };
        if sealed.len() <= EPHEMERAL_KEY_LEN {
            return Err(bad());
        }
        let (public, ciphertext) = sealed.split_at(EPHEMERAL_KEY_LEN);
        let ephemeral = keys::parse_public(public, slot)?;
        let label = seed_label(round, slot);
        let key = self.key.agree(&ephemeral, &label)?;
        let seed = seal::open(&key, &label, ciphertext).ok_or_else(bad)?;
        seed.try_into().map_err(|_| bad())
    }
}

/// The aggregator's side of a two-server round: it keeps each client's
/// masked share and sealed seed, hands the seeds to the mask server, and
/// adds the mask server's sum to its own.
#[derive(Debug)]
pub struct Aggregator {
    params: SecureParams,
    ring: Ring,
    round: u32,
    masked: BTreeMap<u32, Vec<u64>>,
    seeds: BTreeMap<u32, Vec<u8>>,
}

impl Aggregator {
    /// Opens a round after checking `params`.
    pub fn new(params: SecureParams, round: u32) -> Result<Self, SecAggError> {
        params.check()?;
        if params.protocol != SecureProtocol::TwoServer {
            return Err(SecAggError::Params(format!(
                "the two-server aggregator cannot run {}",
                params.protocol
            )));
        }
        Ok(Self {
            ring: Ring::new(params.ring_bits)?,
            params,
            round,
            masked: BTreeMap::new(),
            seeds: BTreeMap::new(),
        })
    }

    /// Returns the ring of the round.
    pub fn ring(&self) -> Ring {
        self.ring
    }

    /// Elements of each vector: the values, the weight and the clipped
    /// count.
    pub fn width(&self) -> usize {
        self.params.len + 2
    }

    /// Takes a client's masked input and sealed seed. Anything else, a
    /// repeated input, or one for another round is rejected.
    pub fn receive(&mut self, slot: u32, reply: SecureReply) -> Result<(), SecAggError> {
        if reply.round() != self.round {
            return Err(SecAggError::Protocol(format!(
                "{} message for round {} arrived in round {}",
                reply.phase(),
                reply.round(),
                self.round
            )));
        }
        let SecureReply::MaskedInput {
            masked, mask_share, ..
        } = reply
        else {
            return Err(SecAggError::Protocol(format!(
                "{} message arrived, but the two-server protocol takes only masked inputs",
                reply.phase()
            )));
        };
        if slot == 0 || slot > self.params.clients {
            return Err(SecAggError::Protocol(format!(
                "slot {slot} is not part of this round"
            )));
        }
        if self.masked.contains_key(&slot) {
            return Err(SecAggError::Protocol(format!(
                "slot {slot} already sent its masked input"
            )));
        }
        let seed = mask_share.ok_or_else(|| {
            SecAggError::Protocol(format!("slot {slot} sent no share for the mask server"))
        })?;
        let values = self.ring.unpack(&masked, self.width())?;
        self.masked.insert(slot, values);
        self.seeds.insert(slot, seed);
        Ok(())
    }

    /// True once every client's input arrived.
    pub fn complete(&self) -> bool {
        self.masked.len() >= self.params.clients as usize
    }

    /// Clients whose input arrived.
    pub fn received(&self) -> usize {
        self.masked.len()
    }

    /// Returns the sealed seeds to send to the mask server, by slot.
    pub fn sealed_seeds(&self) -> Vec<(u32, Vec<u8>)> {
        self.seeds
            .iter()
            .map(|(slot, seed)| (*slot, seed.clone()))
            .collect()
    }

    /// Adds the mask server's sum to the aggregator's: the total of the
    /// clients' inputs.
    pub fn finish(&self, mask_sum: &[u64]) -> Result<(Vec<u64>, Participation), SecAggError> {
        if self.masked.len() < 2 {
            return Err(SecAggError::BelowThreshold {
                phase: "masked-input",
                have: self.masked.len(),
                need: 2,
            });
        }
        if mask_sum.len() != self.width() {
            return Err(SecAggError::BadInput(format!(
                "the mask server's sum has {} elements, expected {}",
                mask_sum.len(),
                self.width()
            )));
        }
        let mut sum = mask_sum.to_vec();
        for values in self.masked.values() {
            self.ring.add_assign(&mut sum, values);
        }
        let participation = Participation {
            advertised: self.masked.len(),
            shared: self.masked.len(),
            survivors: self.masked.len(),
            revealed: 0,
            recovered: 0,
            reconstructions: 0,
        };
        Ok((sum, participation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_sums_add_up_to_the_total() {
        let ring = Ring::new(24).unwrap();
        let mut server = MaskServer::new(2).unwrap();
        let inputs: Vec<Vec<u64>> = vec![vec![1, 2, 3], vec![10, 20, 30], vec![100, 200, 300]];
        let mut aggregator = vec![0u64; 3];
        let mut sealed = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let mut share = ring.pack(input);
            let slot = i as u32 + 1;
            sealed.push((
                slot,
                split(ring, &mut share, server.public_key(), 5, slot).unwrap(),
            ));
            let share = ring.unpack(&share, 3).unwrap();
            assert_ne!(&share, input, "the aggregator's share hides the input");
            ring.add_assign(&mut aggregator, &share);
        }
        let masks = server.mask_sum("run", 5, ring, 3, &sealed).unwrap();
        ring.add_assign(&mut aggregator, &masks);
        assert_eq!(aggregator, vec![111, 222, 333]);
    }

    #[test]
    fn a_round_is_answered_once_and_never_for_one_client() {
        let ring = Ring::new(16).unwrap();
        let mut server = MaskServer::new(2).unwrap();
        let key = server.public_key().to_vec();
        let shares: Vec<(u32, Vec<u8>)> = (1..=3)
            .map(|slot| {
                (
                    slot,
                    split(ring, &mut ring.pack(&[7]), &key, 1, slot).unwrap(),
                )
            })
            .collect();
        assert!(matches!(
            server.mask_sum("run", 1, ring, 1, &shares[..1]),
            Err(SecAggError::BelowThreshold { .. })
        ));
        server.mask_sum("run", 1, ring, 1, &shares).unwrap();
        let again = server
            .mask_sum("run", 1, ring, 1, &shares[..2])
            .unwrap_err();
        assert!(again.to_string().contains("already answered"), "{again}");
        // Another run id cannot reuse the seeds to isolate a client.
        let replay = server
            .mask_sum("other", 1, ring, 1, &shares[1..])
            .unwrap_err();
        assert!(replay.to_string().contains("already summed"), "{replay}");
    }

    #[test]
    fn split_rejects_partial_elements() {
        // Three bytes of a 16-bit ring: the last byte would go unmasked.
        let ring = Ring::new(16).unwrap();
        let server = MaskServer::new(2).unwrap();
        let mut packed = [1u8, 2, 3];
        let err = split(ring, &mut packed, server.public_key(), 1, 1).unwrap_err();
        assert!(err.to_string().contains("not a whole number"), "{err}");
        assert_eq!(packed, [1, 2, 3]);
    }

    #[test]
    fn oversized_or_empty_sums_are_rejected_before_allocating() {
        let ring = Ring::new(16).unwrap();
        let mut server = MaskServer::new(2).unwrap();
        let shares = vec![(1, vec![0u8; 100]), (2, vec![1u8; 100])];
        for len in [0, MAX_MASK_LEN + 1, u32::MAX as usize] {
            let err = server.mask_sum("run", 1, ring, len, &shares).unwrap_err();
            assert!(err.to_string().contains("outside"), "{err}");
        }
    }

    #[test]
    fn a_seed_sealed_for_another_round_or_slot_does_not_open() {
        let ring = Ring::new(16).unwrap();
        let mut server = MaskServer::new(2).unwrap();
        let key = server.public_key().to_vec();
        let a = split(ring, &mut ring.pack(&[1]), &key, 1, 1).unwrap();
        let b = split(ring, &mut ring.pack(&[1]), &key, 1, 2).unwrap();
        let err = server
            .mask_sum("run", 2, ring, 1, &[(1, a.clone()), (2, b.clone())])
            .unwrap_err();
        assert_eq!(err, SecAggError::BadCiphertext { from: 1, to: 0 });
        let err = server
            .mask_sum("run", 1, ring, 1, &[(2, a), (1, b)])
            .unwrap_err();
        assert!(matches!(err, SecAggError::BadCiphertext { .. }));
    }
}
