//! The client core shared by every kind of Starling client (native edge
//! process, in-process simulator, browser tab): the protocol state machine
//! and local training, with no transport and no async runtime of its own.
//!
//! A transport implements [`Transport`]; [`drive`] runs the session over it
//! and calls back for the heavy training step, which the caller places on a
//! thread (native) or a worker (browser). Updates are compressed as the
//! round requests, with error feedback ([`Uplink`]), or quantized and masked
//! for secure aggregation ([`SecureUplink`]).

mod control;
mod data;
mod drive;
mod secure;
mod session;
mod uplink;

pub use control::ControlVariate;
pub use data::DataSource;
pub use drive::{Notice, SessionEnd, Transport, TransportError, drive, drive_observed};
pub use secure::SecureUplink;
pub use session::{ClientError, LocalJob, Session, Step, train_round, update_message};
pub use uplink::{Packing, Uplink};
