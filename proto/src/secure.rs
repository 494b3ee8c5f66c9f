//! Wire messages of secure aggregation: the round's parameters announced in
//! the task, the server's requests of each phase and the clients' replies.
//!
//! Clients of a secure round are known by their slot, `1..=n` in the order
//! of their ids; slots are the x-coordinates of the Shamir shares. Keys are
//! SEC1-encoded P-256 points, ciphertexts are AES-256-GCM with the tag
//! appended, and masked vectors pack each ring element into
//! `ceil(ring_bits / 8)` little-endian bytes.

use serde::{Deserialize, Serialize};

/// Which secure-aggregation protocol a round runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SecureProtocol {
    /// Bonawitz et al. 2017: every client pairs with every other.
    SecAgg,
    /// Bell et al. 2020: every client pairs with the neighbours of a random
    /// regular graph.
    SecAggPlus,
    /// Additive shares split between the aggregator and a mask server.
    TwoServer,
}

impl SecureProtocol {
    /// The name used in configs: `secagg`, `secagg+` or `two-server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecAgg => "secagg",
            Self::SecAggPlus => "secagg+",
            Self::TwoServer => "two-server",
        }
    }
}

impl std::fmt::Display for SecureProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a client turns its update into ring elements, and which protocol
/// masks them. Sent with every task of a secure round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecureSetup {
    /// The protocol.
    pub protocol: SecureProtocol,
    /// This client's slot, `1..=clients`.
    pub slot: u32,
    /// Clients sampled for the round.
    pub clients: u32,
    /// Shares needed to reconstruct a secret (single-server protocols).
    pub threshold: u32,
    /// Bits b of the ring Z_(2^b) the masked vectors live in.
    pub ring_bits: u8,
    /// Bits of each quantized value before weighting.
    pub value_bits: u8,
    /// Values are clipped to `[-clip_range, clip_range]` before quantizing.
    pub clip_range: f64,
    /// Largest weight a client may multiply its values by; with
    /// `weighted` false every client weighs 1.
    pub max_weight: u64,
    /// Weight by example count (FedAvg) rather than uniformly.
    pub weighted: bool,
    /// Two-server protocol: the mask server's public key, which seals the
    /// client's share for it.
    #[serde(with = "serde_bytes")]
    pub mask_server_key: Option<Vec<u8>>,
    /// Differential privacy with distributed noise: the client adds its
    /// share of Skellam noise to the rounded update before masking, and
    /// encodes it as signed integers instead of `value_bits` levels.
    pub noise: Option<SkellamSetup>,
}

/// Distributed Skellam noise that every client of a secure round adds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkellamSetup {
    /// L2 norm C the update is clipped to.
    pub clip_norm: f64,
    /// Scale γ from update units to integers.
    pub scale: f64,
    /// Bound Δ2 on the rounded update's L2 norm.
    pub l2_bound: f64,
    /// λ of the client's Sk(λ, λ) noise per coordinate.
    pub lambda: f64,
}

/// One client's public keys, as the server relays them to its neighbours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerKeys {
    /// The client's slot.
    pub slot: u32,
    /// Key-agreement public key for encrypting shares.
    #[serde(with = "serde_bytes")]
    pub enc_key: Vec<u8>,
    /// Key-agreement public key for the pairwise masks.
    #[serde(with = "serde_bytes")]
    pub mask_key: Vec<u8>,
}

/// An encrypted bundle of Shamir shares from one client to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedShares {
    /// Sender's slot.
    pub from: u32,
    /// Recipient's slot.
    pub to: u32,
    /// AES-256-GCM ciphertext of the recipient's share of the sender's mask
    /// seed and of its mask secret key.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// A share revealed in the unmasking phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedShare {
    /// The slot whose secret this is a share of.
    pub owner: u32,
    /// The 32-byte share, a P-256 scalar.
    #[serde(with = "serde_bytes")]
    pub share: Vec<u8>,
}

/// The server's request in each phase after key advertising.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SecureRequest {
    /// Phase 2: share keys with these neighbours, who advertised theirs.
    ShareKeys {
        /// Round.
        round: u32,
        /// The neighbours' keys, this client excluded.
        peers: Vec<PeerKeys>,
    },
    /// Phase 3: the neighbours who shared keys sent these; mask the input
    /// with exactly those neighbours.
    MaskedInput {
        /// Round.
        round: u32,
        /// Bundles addressed to this client.
        shares: Vec<SealedShares>,
    },
    /// Phase 4: reveal mask-seed shares of the survivors and secret-key
    /// shares of the dropped neighbours.
    Unmask {
        /// Round.
        round: u32,
        /// Neighbours whose masked input arrived.
        survivors: Vec<u32>,
        /// Neighbours who shared keys but sent no masked input.
        dropped: Vec<u32>,
    },
}

impl SecureRequest {
    /// Round the request belongs to.
    pub fn round(&self) -> u32 {
        match self {
            Self::ShareKeys { round, .. }
            | Self::MaskedInput { round, .. }
            | Self::Unmask { round, .. } => *round,
        }
    }
}

/// Training figures a client reports with its masked input. They are not
/// masked: the loss and step count are shown per round, not per client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    /// Local optimisation steps.
    pub local_steps: u32,
    /// Mean training loss.
    pub train_loss: f64,
}

/// A client's reply in each phase of a secure round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SecureReply {
    /// Phase 1: the client trained and advertises two fresh public keys.
    AdvertiseKeys {
        /// Round.
        round: u32,
        /// Key-agreement public key for encrypting shares.
        #[serde(with = "serde_bytes")]
        enc_key: Vec<u8>,
        /// Key-agreement public key for the pairwise masks.
        #[serde(with = "serde_bytes")]
        mask_key: Vec<u8>,
    },
    /// Phase 2: one sealed bundle per neighbour.
    ShareKeys {
        /// Round.
        round: u32,
        /// The bundles, routed by the server.
        shares: Vec<SealedShares>,
    },
    /// Phase 3: the masked, quantized and weighted update.
    MaskedInput {
        /// Round.
        round: u32,
        /// Packed ring elements: the values, then the weight, then the
        /// count of clipped values.
        #[serde(with = "serde_bytes")]
        masked: Vec<u8>,
        /// Two-server protocol: the client's share for the mask server,
        /// sealed to its key; `None` otherwise.
        #[serde(with = "serde_bytes")]
        mask_share: Option<Vec<u8>>,
        /// Loss and steps of local training.
        report: TrainingReport,
    },
    /// Phase 4: the requested shares.
    Unmask {
        /// Round.
        round: u32,
        /// Shares of the survivors' mask seeds.
        seed_shares: Vec<RevealedShare>,
        /// Shares of the dropped neighbours' mask secret keys.
        key_shares: Vec<RevealedShare>,
    },
}

impl SecureReply {
    /// Round the reply belongs to.
    pub fn round(&self) -> u32 {
        match self {
            Self::AdvertiseKeys { round, .. }
            | Self::ShareKeys { round, .. }
            | Self::MaskedInput { round, .. }
            | Self::Unmask { round, .. } => *round,
        }
    }

    /// Name of the phase, for errors and logs.
    pub fn phase(&self) -> &'static str {
        match self {
            Self::AdvertiseKeys { .. } => "advertise-keys",
            Self::ShareKeys { .. } => "share-keys",
            Self::MaskedInput { .. } => "masked-input",
            Self::Unmask { .. } => "unmask",
        }
    }
}

/// A request from the aggregator to the mask server of the two-server
/// protocol, one per binary WebSocket frame on `/mask`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MaskServerRequest {
    /// The mask server's public key, which clients seal their seeds to.
    PublicKey,
    /// The sum of the masks of these clients, answered once per round.
    Sum {
        /// Run id, so that rounds of different runs never collide.
        run: String,
        /// Round.
        round: u32,
        /// Bits b of the ring.
        ring_bits: u8,
        /// Elements per vector.
        len: u32,
        /// Each client's slot and sealed seed.
        seeds: Vec<(u32, Vec<u8>)>,
    },
}

/// The mask server's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MaskServerReply {
    /// The SEC1-encoded public key.
    PublicKey(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The packed sum of the requested masks.
    Sum(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The request was rejected; the text says why.
    Error(String),
}
