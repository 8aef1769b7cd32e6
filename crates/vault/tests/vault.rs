//! The vault against real stores: every check runs on SQLite (temp file) and on Postgres (a
//! fresh schema of `FLOWORK_TEST_PG`, SKIPPED loudly when unset, a failure when `CI=true`).

#![allow(clippy::unwrap_used)]

#[path = "vault/checks.rs"]
mod checks;
#[path = "vault/harness.rs"]
mod harness;

use flowork_testkit::backend_tests;

macro_rules! all_backends {
    ($($check:ident),+ $(,)?) => {
        backend_tests!(sqlite: $($check),+);
        backend_tests!(postgres: $($check),+);
    };
}

all_backends!(
    round_trip,
    invalid_input_writes_nothing,
    ciphertext_hides_the_plaintext,
    every_seal_uses_a_fresh_nonce,
    wrong_key_is_refused_and_nothing_changes,
    a_blob_moved_to_another_name_is_corrupt,
    a_tampered_byte_is_corrupt,
    metadata_never_exposes_secrets,
    debug_output_hides_secret_and_key,
    racing_opens_agree_on_one_canary,
    racing_opens_with_different_keys_let_one_win,
    no_canary_but_foreign_credentials_is_refused,
    an_edited_canary_is_corrupt,
);
