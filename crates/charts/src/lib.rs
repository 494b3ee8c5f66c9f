//! Line charts rendered to SVG text, with no dependency on a browser: the
//! dashboard puts the text into the page and `starling plot` writes it to
//! files, so both show the same figure.
//!
//! - [`scale`]: mapping data to pixels and choosing round tick values.
//! - [`figure`]: the chart model ([`Figure`], [`Series`]) and the tick
//!   label formats ([`TickFormat`]).
//! - [`svg`]: the renderer ([`render`]).
//! - [`run`]: the standard figures of a run (accuracy, loss, bytes, ε).

pub mod figure;
pub mod run;
pub mod scale;
pub mod svg;

pub use figure::{Figure, Series, TickFormat};
pub use svg::render;
