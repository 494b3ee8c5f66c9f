//! starling-client.
