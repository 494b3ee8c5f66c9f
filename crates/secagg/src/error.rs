//! Errors of secure aggregation, one enum for the whole crate.

/// A failed step of secure aggregation.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SecAggError {
    /// The parameters cannot give a correct or private round.
    #[error("invalid secure aggregation parameters: {0}")]
    Params(String),
    /// The cryptography library failed on valid input.
    #[error("the cryptography library failed: {0}")]
    Crypto(&'static str),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
    /// A public key does not decode as a P-256 point.
    #[error("slot {slot} sent a public key that is not a valid P-256 point")]
    BadKey {
        /// Slot of the key's owner.
        slot: u32,
    },
    /// A share bundle failed authentication or has the wrong length.
    #[error("the share bundle from slot {from} to slot {to} does not decrypt")]
    BadCiphertext {
        /// Sender.
        from: u32,
        /// Recipient.
        to: u32,
    },
    /// A share is not a canonical 32-byte scalar.
    #[error("the share of slot {owner}'s secret is not a valid field element")]
    BadShare {
        /// Slot whose secret it shares.
        owner: u32,
    },
    /// Fewer participants remain than the threshold allows.
    #[error("{phase}: {have} participants left, {need} needed; the round is aborted")]
    BelowThreshold {
        /// The phase that fell short.
        phase: &'static str,
        /// Participants (or shares) available.
        have: usize,
        /// Participants (or shares) needed.
        need: usize,
    },
    /// A message does not fit the protocol's state: wrong phase, unknown
    /// or repeated slot, a request to reveal both secrets of one peer.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// A masked vector has the wrong size or values outside the ring.
    #[error("masked input rejected: {0}")]
    BadInput(String),
    /// The update to encode contains NaN or an infinity.
    #[error("value {index} of the update is {value}; only finite values can be aggregated")]
    NonFinite {
        /// Position of the first bad value.
        index: usize,
        /// The value.
        value: f32,
    },
}
