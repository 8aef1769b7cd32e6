//! Compiles `proto/flowork/v1/*.proto` with a vendored protoc, so no system protoc is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not with env!(): a build script compiled for one checkout is reused by
    // others sharing the target dir, and must not point at the first checkout's folder.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "common.proto",
        "engine_link.proto",
        "store.proto",
        "integrity.proto",
        "license.proto",
    ]
    .map(|f| root.join("flowork/v1").join(f));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    // A PROTOC in the environment wins; otherwise the vendored one (setting the env var would
    // need `unsafe` in edition 2024, which the workspace forbids).
    if std::env::var_os("PROTOC").is_none() {
        config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    }
    // `build_transport(false)`: EngineLink's rpc is named `Connect` (DESIGN §3), which would clash
    // with the generated `Client::connect(url)`; clients are built with `Client::new(channel)`.
    tonic_prost_build::configure()
        .build_transport(false)
        .file_descriptor_set_path(out.join("flowork_descriptor.bin"))
        .compile_with_config(config, &files, &[root])?;
    Ok(())
}
