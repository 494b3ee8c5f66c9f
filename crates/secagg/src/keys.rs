//! P-256 key pairs and key agreement: ECDH, then HKDF-SHA256 with a label
//! that names the key's purpose, round and parties, so that no derived key
//! is ever used for two things.
//!
//! Natively the scalar multiplications run in AWS-LC (`aws-lc-rs`), whose
//! P-256 was about four times faster than the pure-Rust `p256` arithmetic
//! on the benchmark machine. On wasm32 they run in `p256`. Both compute the
//! same ECDH shared secret (the x-coordinate of the shared point), so
//! native and browser clients agree on every key.

use hkdf::Hkdf;
use p256::SecretKey;
use sha2::Sha256;

use crate::{SecAggError, random};

/// Salt of every derivation, naming the protocol.
const SALT: &[u8] = b"starling secure aggregation v1";

/// Length of an uncompressed SEC1 P-256 point, the only form accepted.
pub const PUBLIC_KEY_LEN: usize = 65;

/// A peer's public key: an uncompressed SEC1 point checked to lie on
/// P-256, with the slot that advertised it.
#[derive(Clone)]
pub struct PublicKey {
    slot: u32,
    point: backend::Point,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

/// A fresh key pair for one round.
pub struct KeyPair {
    secret: SecretKey,
    public: Vec<u8>,
    agreement: backend::Scalar,
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
        Self::from_secret(scalar)
    }

    /// The key pair of a secret key (reconstructed from shares).
    pub fn from_secret(secret: SecretKey) -> Result<Self, SecAggError> {
        let (agreement, public) = backend::key_pair(&secret)?;
        Ok(Self {
            secret,
            public,
            agreement,
        })
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
    pub fn agree(&self, peer: &PublicKey, label: &[u8]) -> Result<[u8; 32], SecAggError> {
        let [key] = self.agree_keys(peer, [label])?;
        Ok(key)
    }

    /// Two keys from one agreement with `peer`, for two labels.
    pub fn agree_pair(
        &self,
        peer: &PublicKey,
        first: &[u8],
        second: &[u8],
    ) -> Result<[[u8; 32]; 2], SecAggError> {
        self.agree_keys(peer, [first, second])
    }

    /// Runs one agreement with `peer`, then one HKDF expansion per label.
    fn agree_keys<const N: usize>(
        &self,
        peer: &PublicKey,
        labels: [&[u8]; N],
    ) -> Result<[[u8; 32]; N], SecAggError> {
        backend::agree(&self.agreement, &peer.point, |shared| {
            let hkdf = Hkdf::<Sha256>::new(Some(SALT), shared);
            labels.map(|label| {
                let mut key = [0u8; 32];
                // 32 bytes are far below HKDF-SHA256's limit of 8160.
                hkdf.expand(label, &mut key)
                    .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF length"));
                key
            })
        })
        .ok_or(SecAggError::Crypto("P-256 key agreement failed"))
    }
}

/// Parses the SEC1 public key that `slot` advertised. Only the
/// uncompressed form is accepted, on every target.
pub fn parse_public(bytes: &[u8], slot: u32) -> Result<PublicKey, SecAggError> {
    if bytes.len() != PUBLIC_KEY_LEN || bytes[0] != 4 {
        return Err(SecAggError::BadKey { slot });
    }
    let point = backend::parse(bytes).ok_or(SecAggError::BadKey { slot })?;
    Ok(PublicKey { slot, point })
}

/// AWS-LC's P-256 for native targets.
#[cfg(not(target_arch = "wasm32"))]
mod backend {
    use aws_lc_rs::agreement::{self, ECDH_P256, ParsedPublicKey, PrivateKey, UnparsedPublicKey};

    use crate::SecAggError;

    pub type Point = ParsedPublicKey;
    pub type Scalar = PrivateKey;

    pub fn key_pair(secret: &p256::SecretKey) -> Result<(Scalar, Vec<u8>), SecAggError> {
        let failed = || SecAggError::Crypto("AWS-LC rejected a valid P-256 scalar");
        let scalar =
            PrivateKey::from_private_key(&ECDH_P256, &secret.to_bytes()).map_err(|_| failed())?;
        let public = scalar.compute_public_key().map_err(|_| failed())?;
        Ok((scalar, public.as_ref().to_vec()))
    }

    pub fn parse(bytes: &[u8]) -> Option<Point> {
        ParsedPublicKey::try_from(&UnparsedPublicKey::new(&ECDH_P256, bytes)).ok()
    }

    pub fn agree<R>(scalar: &Scalar, point: &Point, kdf: impl FnOnce(&[u8]) -> R) -> Option<R> {
        agreement::agree(scalar, point.clone(), (), |shared| Ok(kdf(shared))).ok()
    }
}

/// The pure-Rust `p256` crate for wasm32.
#[cfg(target_arch = "wasm32")]
mod backend {
    use p256::{NonZeroScalar, PublicKey, SecretKey};

    use crate::SecAggError;

    pub type Point = PublicKey;
    pub type Scalar = NonZeroScalar;

    pub fn key_pair(secret: &SecretKey) -> Result<(Scalar, Vec<u8>), SecAggError> {
        let public = secret.public_key().to_sec1_bytes().into_vec();
        Ok((secret.to_nonzero_scalar(), public))
    }

    pub fn parse(bytes: &[u8]) -> Option<Point> {
        PublicKey::from_sec1_bytes(bytes).ok()
    }

    pub fn agree<R>(scalar: &Scalar, point: &Point, kdf: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let shared = p256::ecdh::diffie_hellman(scalar, point.as_affine());
        Some(kdf(shared.raw_secret_bytes()))
    }
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
    fn agreement_matches_the_pure_rust_curve() {
        // The browser computes agreements with `p256`; a native peer must
        // derive the same key from the same secret and public key.
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        let pure_public = b.secret().public_key().to_sec1_bytes();
        assert_eq!(&pure_public[..], b.public());
        let shared = p256::ecdh::diffie_hellman(
            a.secret().to_nonzero_scalar(),
            b.secret().public_key().as_affine(),
        );
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), shared.raw_secret_bytes());
        let mut expected = [0u8; 32];
        hkdf.expand(b"mask", &mut expected).unwrap();
        let pb = parse_public(b.public(), 2).unwrap();
        assert_eq!(a.agree(&pb, b"mask").unwrap(), expected);
    }

    #[test]
    fn garbage_keys_are_refused() {
        assert_eq!(
            parse_public(&[4, 1, 2, 3], 7).unwrap_err(),
            SecAggError::BadKey { slot: 7 }
        );
        // Right length and tag, but (1, 1) is not on the curve.
        let mut off_curve = [0u8; PUBLIC_KEY_LEN];
        off_curve[0] = 4;
        off_curve[32] = 1;
        off_curve[64] = 1;
        assert_eq!(
            parse_public(&off_curve, 8).unwrap_err(),
            SecAggError::BadKey { slot: 8 }
        );
        // The compressed form of a valid key is refused too.
        let key = KeyPair::generate().unwrap();
        let mut compressed = vec![2 + (key.public()[64] & 1)];
        compressed.extend_from_slice(&key.public()[1..33]);
        assert!(p256::PublicKey::from_sec1_bytes(&compressed).is_ok());
        assert_eq!(
            parse_public(&compressed, 9).unwrap_err(),
            SecAggError::BadKey { slot: 9 }
        );
    }
}
