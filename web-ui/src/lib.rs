//! The Leptos dashboard served at `/dashboard`: live accuracy, bytes per
//! round, privacy spent and per-cohort accuracy of a run.
//!
//! Only the crate exists so far; the server already broadcasts the round
//! metrics it will display (`starling_server::RunEvent`).
