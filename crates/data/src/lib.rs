//! starling-data.
