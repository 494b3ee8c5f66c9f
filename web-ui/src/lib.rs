//! starling-web-ui.
