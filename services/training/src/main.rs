//! `flowork-training`: the training service as its own process.

use std::process::ExitCode;

fn main() -> ExitCode {
    flowork_kit::entry::service_main(flowork_kit::ServiceName::Training, flowork_training::start)
}
