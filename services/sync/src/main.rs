//! `flowork-sync`: the sync service as its own process.

use std::process::ExitCode;

fn main() -> ExitCode {
    flowork_kit::entry::service_main(flowork_kit::ServiceName::Sync, flowork_sync::start)
}
