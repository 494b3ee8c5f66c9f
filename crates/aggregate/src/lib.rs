//! starling-aggregate.
