//! Authenticated encryption of share bundles with AES-256-GCM. Every key
//! is derived for one message (one sender, one recipient, one round), so a
//! fixed nonce is safe; the same triple is also the associated data.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::SecAggError;

/// Encrypts `plaintext` under a one-message `key`, bound to `context`.
pub fn seal(key: &[u8; 32], context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .unwrap_or_else(|_| unreachable!("AES-GCM encrypts any message below 64 GiB"))
}

/// Decrypts and authenticates; `None` when the key, context or bytes are
/// wrong.
pub fn open(key: &[u8; 32], context: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: ciphertext,
                aad: context,
            },
        )
        .ok()
}

/// Error for a bundle from `from` to `to` that does not open.
pub fn bad(from: u32, to: u32) -> SecAggError {
    SecAggError::BadCiphertext { from, to }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_is_detected() {
        let key = [7u8; 32];
        let sealed = seal(&key, b"r1 1->2", b"share");
        assert_eq!(open(&key, b"r1 1->2", &sealed).unwrap(), b"share");
        assert!(open(&key, b"r1 1->3", &sealed).is_none());
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert!(open(&key, b"r1 1->2", &flipped).is_none());
        assert!(open(&[8u8; 32], b"r1 1->2", &sealed).is_none());
    }
}
