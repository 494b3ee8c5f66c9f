//! starling-train.
