//! `flowork-gateway`: the public edge as its own process.

use std::process::ExitCode;

fn main() -> ExitCode {
    flowork_kit::entry::service_main(flowork_kit::ServiceName::Gateway, flowork_gateway::start)
}
