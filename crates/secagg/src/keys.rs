//! P-256 key pairs and key agreement: ECDH, then HKDF-SHA256 with a label
//! that names the key's purpose, round and parties, so that no derived key
//! is ever used for two things.

use hkdf::Hkdf;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

use crate::{SecAggError, random};

/// Salt of every derivation, naming the protocol.
const SALT: &[u8] = b"starling secure aggregation v1";

/// A fresh key pair for one round.
#[derive(Clone)]
pub struct KeyPair {
    secret: SecretKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Draws a key pair from the system CSPRNG.
    pub fn generate() -> Result<Self, SecAggError> {
        let scalar = loop {
            let candidate = random::scalar()?;
            if let Ok(secret) = SecretKey::from_bytes(&candidate.to_bytes()) {
                break secret;
            }
        };
        Ok(Self::from_secret(scalar))
    }

    /// The key pair of a secret key (reconstructed from shares).
    pub fn from_secret(secret: SecretKey) -> Self {
        let public = secret.public_key().to_sec1_bytes().into_vec();
        Self { secret, public }
    }

    /// SEC1 encoding of the public key.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The secret scalar, for sharing.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// A 32-byte key shared with the owner of `peer`, for `label`.
    pub fn agree(&self, peer: &PublicKey, label: &[u8]) -> [u8; 32] {
        let [key, _] = self.agree_pair(peer, label, label);
        key
    }

    /// Two keys from one agreement with `peer`, for two labels.
    pub fn agree_pair(&self, peer: &PublicKey, first: &[u8], second: &[u8]) -> [[u8; 32]; 2] {
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), shared.raw_secret_bytes());
        let mut keys = [[0u8; 32]; 2];
        for (key, label) in keys.iter_mut().zip([first, second]) {
            // 32 bytes are far below HKDF-SHA256's limit of 8160.
            hkdf.expand(label, key)
                .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF length"));
        }
        keys
    }
}

/// Parses the SEC1 public key that `slot` advertised.
pub fn parse_public(bytes: &[u8], slot: u32) -> Result<PublicKey, SecAggError> {
    PublicKey::from_sec1_bytes(bytes).map_err(|_| SecAggError::BadKey { slot })
}

/// Derives a 32-byte key from secret material without key agreement (the
/// self-mask seed).
pub fn derive(material: &[u8], label: &[u8]) -> [u8; 32] {
    let hkdf = Hkdf::<Sha256>::new(Some(SALT), material);
    let mut key = [0u8; 32];
    hkdf.expand(label, &mut key)
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF length"));
    key
}

/// The label of a key: purpose, round and the parties' slots.
pub fn label(purpose: &str, round: u32, parties: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(purpose.len() + 4 + 4 * parties.len());
    out.extend_from_slice(purpose.as_bytes());
    out.extend_from_slice(&round.to_be_bytes());
    for party in parties {
        out.extend_from_slice(&party.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_key() {
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        let pa = parse_public(a.public(), 1).unwrap();
        let pb = parse_public(b.public(), 2).unwrap();
        let label = label("mask", 3, &[1, 2]);
        assert_eq!(a.agree(&pb, &label), b.agree(&pa, &label));
        assert_ne!(a.agree(&pb, &label), a.agree(&pb, b"other"));
    }

    #[test]
    fn garbage_keys_are_refused() {
        assert_eq!(
            parse_public(&[4, 1, 2, 3], 7).unwrap_err(),
            SecAggError::BadKey { slot: 7 }
        );
    }
}
