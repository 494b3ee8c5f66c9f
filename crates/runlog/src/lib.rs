//! The record of a federated run, shared by the server that writes it, the
//! dashboard that shows it and the CLI that plots it. Compiles for native
//! and wasm32.
//!
//! - [`round`]: one round's metrics ([`RoundMetrics`]), as written to
//!   `metrics.jsonl`.
//! - [`cohort`]: accuracy per class, per client, per client-size decile and
//!   per client group, and the disparity across clients.
//! - [`live`]: the events a running server streams ([`LiveEvent`]) and the
//!   state a viewer rebuilds from them ([`RunView`]).
//! - [`summary`]: the end-of-run record and the run header.
//! - [`units`]: formatting of bytes, ε, percentages and times.

pub mod cohort;
pub mod live;
pub mod round;
pub mod summary;
pub mod units;

pub use cohort::{ClassAccuracy, ClientAccuracy, Disparity, SizeDecile};
pub use live::{ClientInfo, ClientState, LiveEvent, RunView, Sequenced};
pub use round::{PrivacyRound, RoundMetrics, SecAggRound};
pub use starling_proto::FinishReason;
pub use summary::{RunHeader, RunListing, RunStatus, RunSummary};
