//! One module per subcommand.

pub mod demo;
pub mod edge;
pub mod plot;
pub mod privacy;
pub mod serve;
pub mod sim;
