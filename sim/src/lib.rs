//! starling-sim.
