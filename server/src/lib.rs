//! starling-server.
