//! Cross-service end-to-end tests live in `tests/tests/`: most start the whole stack in-process
//! with `flowork_cli::up::launch`; `split/` runs gateway, store and engine as separate OS
//! processes (the `flowork-e2e-cli` binary, which is `flowork`) and talks to them only over their
//! ports.
