//! `flowork`: the command line.

fn main() -> std::process::ExitCode {
    flowork_cli::main()
}
