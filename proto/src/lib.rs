//! Wire messages and the binary codec shared by the Starling server and its
//! clients (native edge clients, the in-process simulator, browser tabs).
//!
//! This crate knows nothing of tokio, axum or burn: it only defines what
//! crosses the wire and how it is framed. See `proto/README.md` for the
//! message catalogue and the framing rules.

mod codec;
mod compression;
mod message;
mod params;
mod secure;

pub use codec::{
    CodecError, DEFAULT_MAX_MESSAGE_BYTES, HEADER_LEN, MAGIC, MASK_MAGIC, PROTOCOL_VERSION,
    decode_client, decode_mask, decode_server, encode_client, encode_mask, encode_server,
};
pub use compression::{
    DEFAULT_CHUNK, DEFAULT_QSGD_LEVELS, Sparsification, SpecError, UplinkCompression, ValueEncoding,
};
pub use message::{
    Capabilities, ClientMessage, ClientUpdate, Clipping, DataAssignment, DownlinkModel, ErrorCode,
    FinishReason, LocalObjective, MAX_NUM_EXAMPLES, ModelKind, ModelStep, ModelUpdate,
    PartitionScheme, RoundTask, ServerMessage, TrainConfig, UpdatePayload,
};
pub use params::{ParamError, ParamSet, TensorSpec, compare_layouts};
pub use secure::{
    MaskServerReply, MaskServerRequest, PeerKeys, RevealedShare, SealedShares, SecureProtocol,
    SecureReply, SecureRequest, SecureSetup, SkellamSetup, TrainingReport,
};
