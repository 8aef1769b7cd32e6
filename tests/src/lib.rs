//! Cross-service end-to-end tests live in `tests/tests/`: they start the whole stack in-process
//! with `flowork_cli::up::launch` and talk to it only over its public and private ports.
