//! The `flowork` command, built as this package's binary so the end-to-end tests can start each
//! service as its own OS process (`flowork-e2e-cli serve <service>`).

fn main() -> std::process::ExitCode {
    flowork_cli::main()
}
