//! EngineLink over real sockets: a tonic gateway with a Hub, an engine LinkClient, a Router.

#![allow(clippy::unwrap_used)]

mod auth;
mod flow;
mod kit_server;
mod link;
mod support;
mod tunnel;
