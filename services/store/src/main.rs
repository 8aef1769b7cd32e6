//! `flowork-store`: the store service as its own process.

use std::process::ExitCode;

use flowork_kit::ServiceName;

fn main() -> ExitCode {
    flowork_kit::entry::service_main(ServiceName::Store, flowork_store::start)
}
