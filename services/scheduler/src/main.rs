//! `flowork-scheduler`: the engine as its own process.

use std::process::ExitCode;

fn main() -> ExitCode {
    flowork_kit::entry::service_main_unbound(
        flowork_kit::ServiceName::Scheduler,
        flowork_scheduler::start,
    )
}
