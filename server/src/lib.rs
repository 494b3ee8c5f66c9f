//! The Starling coordinator: runs federated rounds over client links and
//! exposes them over WebSockets.
//!
//! - [`config`]: what a run does ([`RunConfig`]).
//! - [`coordinator`]: the round loop ([`start_run`], [`RunHandle`]).
//! - [`feed`]: the run's numbered live events, for the dashboard.
//! - [`link`]: a transport-independent client connection.
//! - [`http`]: the axum router bridging WebSockets to links.
//! - [`outputs`]: the run's files under `runs/<run-id>/`.
//! - [`web`]: the browser client's files, served next to the WebSocket.
//! - [`api`]: the JSON API over past and current runs.
//! - [`mask_server`]: the second server of the two-server protocol.

pub mod api;
pub mod config;
pub mod coordinator;
pub mod feed;
pub mod http;
pub mod link;
pub mod mask_server;
pub mod outputs;
pub mod sampling;
pub mod setup;
pub mod web;

pub use config::{ConfigError, DEFAULT_PROXIMAL_MU, DataConfig, PrivacyConfig, RunConfig};
pub use coordinator::{ModelSnapshot, RunHandle, StopHandle, start_run};
pub use feed::Feed;
pub use link::{Connector, Link, LinkError, Outbound};
pub use outputs::{RoundMetrics, RunSummary, read_metrics};
pub use setup::StartError;
pub use starling_runlog::{LiveEvent, Sequenced};

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
