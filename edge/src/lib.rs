//! starling-edge.
