//! Framing: every message is one binary WebSocket frame made of a 4-byte
//! header (2 magic bytes, protocol version as little-endian `u16`) and the
//! postcard encoding of the message. Size is checked before any decoding.

use serde::{Serialize, de::DeserializeOwned};

use crate::message::{ClientMessage, ServerMessage};

/// First two bytes of every frame between clients and the coordinator.
pub const MAGIC: [u8; 2] = *b"SL";

/// First two bytes of every frame between the coordinator and the mask
/// server, so that neither side mistakes the other link's frames for its
/// own.
pub const MASK_MAGIC: [u8; 2] = *b"SM";

/// Version of the message catalogue; bumped on any incompatible change.
pub const PROTOCOL_VERSION: u16 = 6;

/// Bytes before the postcard body.
pub const HEADER_LEN: usize = 4;

/// Default frame limit: 64 MiB, room for the CNN (about 1.66M parameters,
/// 6.7 MB as dense `f32`) several times over.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Error from encoding or decoding a frame.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The frame is larger than the receiver accepts.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Frame length.
        size: usize,
        /// The receiver's limit.
        limit: usize,
    },
    /// The frame is shorter than the header.
    #[error("message of {size} bytes is shorter than the {HEADER_LEN}-byte header")]
    Truncated {
        /// Frame length.
        size: usize,
    },
    /// The magic bytes are wrong: not a Starling frame.
    #[error("bad magic bytes {found:02x?}, expected {MAGIC:02x?}")]
    BadMagic {
        /// Bytes found.
        found: [u8; 2],
    },
    /// The peer speaks another protocol version.
    #[error("unsupported protocol version {found}, this build speaks {PROTOCOL_VERSION}")]
    UnsupportedVersion {
        /// Version found.
        found: u16,
    },
    /// The body is not a valid message.
    #[error("malformed message body: {0}")]
    Body(#[from] postcard::Error),
}

/// Encodes a message from a client.
pub fn encode_client(message: &ClientMessage) -> Result<Vec<u8>, CodecError> {
    encode(message)
}

/// Encodes a message from the server.
pub fn encode_server(message: &ServerMessage) -> Result<Vec<u8>, CodecError> {
    encode(message)
}

/// Decodes a frame received by the server, rejecting frames over `limit`.
pub fn decode_client(frame: &[u8], limit: usize) -> Result<ClientMessage, CodecError> {
    decode(frame, limit)
}

/// Decodes a frame received by a client, rejecting frames over `limit`.
pub fn decode_server(frame: &[u8], limit: usize) -> Result<ServerMessage, CodecError> {
    decode(frame, limit)
}

/// Encodes a message between the aggregator and the mask server.
pub fn encode_mask<T: Serialize>(message: &T) -> Result<Vec<u8>, CodecError> {
    encode_with(MASK_MAGIC, message)
}

/// Decodes a message between the aggregator and the mask server.
pub fn decode_mask<T: DeserializeOwned>(frame: &[u8], limit: usize) -> Result<T, CodecError> {
    decode_with(MASK_MAGIC, frame, limit)
}

fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, CodecError> {
    encode_with(MAGIC, message)
}

fn decode<T: DeserializeOwned>(frame: &[u8], limit: usize) -> Result<T, CodecError> {
    decode_with(MAGIC, frame, limit)
}

fn encode_with<T: Serialize>(magic: [u8; 2], message: &T) -> Result<Vec<u8>, CodecError> {
    let mut frame = Vec::with_capacity(HEADER_LEN + 64);
    frame.extend_from_slice(&magic);
    frame.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    Ok(postcard::to_extend(message, frame)?)
}

fn decode_with<T: DeserializeOwned>(
    magic: [u8; 2],
    frame: &[u8],
    limit: usize,
) -> Result<T, CodecError> {
    if frame.len() > limit {
        return Err(CodecError::TooLarge {
            size: frame.len(),
            limit,
        });
    }
    if frame.len() < HEADER_LEN {
        return Err(CodecError::Truncated { size: frame.len() });
    }
    let found = [frame[0], frame[1]];
    if found != magic {
        return Err(CodecError::BadMagic { found });
    }
    let version = u16::from_le_bytes([frame[2], frame[3]]);
    if version != PROTOCOL_VERSION {
        return Err(CodecError::UnsupportedVersion { found: version });
    }
    Ok(postcard::from_bytes(&frame[HEADER_LEN..])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Capabilities, ClientUpdate, UpdatePayload};
    use crate::params::{ParamSet, TensorSpec};

    fn update() -> ClientMessage {
        let specs = vec![TensorSpec {
            name: "w".into(),
            shape: vec![3],
        }];
        ClientMessage::Update(ClientUpdate {
            round: 4,
            num_examples: 12,
            local_steps: 3,
            train_loss: 0.5,
            payload: UpdatePayload::Dense(ParamSet::new(specs, vec![1.0, -2.0, 0.5]).unwrap()),
            control_delta: None,
            clipped: None,
        })
    }

    #[test]
    fn round_trip_preserves_message() {
        let message = update();
        let frame = encode_client(&message).unwrap();
        assert_eq!(&frame[..2], &MAGIC);
        assert_eq!(decode_client(&frame, 1024).unwrap(), message);
    }

    #[test]
    fn limit_is_checked_before_decoding() {
        let frame = encode_client(&update()).unwrap();
        let err = decode_client(&frame, frame.len() - 1).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("limit of {} bytes", frame.len() - 1)),
            "{text}"
        );
        assert!(decode_client(&frame, frame.len()).is_ok());
    }

    #[test]
    fn decline_round_trips() {
        let message = ClientMessage::Decline {
            round: 7,
            reason: "local training diverged".to_owned(),
        };
        let frame = encode_client(&message).unwrap();
        assert_eq!(decode_client(&frame, 1024).unwrap(), message);
    }

    #[test]
    fn wrong_version_is_named() {
        let mut frame = encode_client(&ClientMessage::Leave).unwrap();
        frame[2] = 9;
        let err = decode_client(&frame, 1024).unwrap_err();
        assert!(matches!(err, CodecError::UnsupportedVersion { found: 9 }));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![b'S'],
            b"XXXX".to_vec(),
            vec![b'S', b'L', 1, 0],
            vec![b'S', b'L', 1, 0, 200, 200, 200],
        ];
        for frame in cases {
            assert!(decode_client(&frame, 1024).is_err(), "{frame:?}");
        }
    }

    #[test]
    fn truncated_update_is_rejected() {
        let frame = encode_client(&update()).unwrap();
        for cut in HEADER_LEN..frame.len() {
            assert!(decode_client(&frame[..cut], 1024).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn register_round_trips() {
        let message = ClientMessage::Register {
            client_id: "edge-1".into(),
            capabilities: Capabilities {
                platform: "edge".into(),
                backend: "flex-cpu".into(),
                device: "cpu".into(),
                wants_data: true,
            },
            num_examples: 0,
        };
        let frame = encode_client(&message).unwrap();
        assert_eq!(decode_client(&frame, 1024).unwrap(), message);
    }

    #[test]
    fn mask_link_frames_differ_from_client_frames() {
        let client_frame = encode_client(&update()).unwrap();
        let err = decode_mask::<crate::secure::MaskServerRequest>(&client_frame, 1024).unwrap_err();
        assert!(
            matches!(err, CodecError::BadMagic { found } if found == MAGIC),
            "{err}"
        );

        let mask_frame = encode_mask(&crate::secure::MaskServerRequest::PublicKey).unwrap();
        assert_eq!(&mask_frame[..2], &MASK_MAGIC);
        let err = decode_client(&mask_frame, 1024).unwrap_err();
        assert!(
            matches!(err, CodecError::BadMagic { found } if found == MASK_MAGIC),
            "{err}"
        );
    }

    #[test]
    fn byte_fields_keep_sequence_layout() {
        // Byte fields are written in one piece (serde_bytes) for speed, in
        // the layout a sequence of u8 has: the length, then the bytes.
        let reply = crate::secure::SecureReply::MaskedInput {
            round: 2,
            masked: vec![1, 2, 3],
            mask_share: Some(vec![9]),
            report: crate::secure::TrainingReport {
                local_steps: 1,
                train_loss: 0.5,
            },
        };
        let mut expected = vec![2, 2, 3, 1, 2, 3, 1, 1, 9, 1];
        expected.extend_from_slice(&0.5f64.to_le_bytes());
        assert_eq!(postcard::to_allocvec(&reply).unwrap(), expected);

        let keys = crate::secure::PeerKeys {
            slot: 5,
            enc_key: vec![4, 4],
            mask_key: Vec::new(),
        };
        assert_eq!(postcard::to_allocvec(&keys).unwrap(), [5, 2, 4, 4, 0]);

        let sum = crate::secure::MaskServerReply::Sum(vec![7, 8]);
        assert_eq!(postcard::to_allocvec(&sum).unwrap(), [1, 2, 7, 8]);

        let compressed = UpdatePayload::Compressed(vec![6]);
        assert_eq!(postcard::to_allocvec(&compressed).unwrap(), [1, 1, 6]);

        let frame = encode_client(&ClientMessage::Secure(reply.clone())).unwrap();
        assert_eq!(
            decode_client(&frame, 1024).unwrap(),
            ClientMessage::Secure(reply)
        );
    }
}
