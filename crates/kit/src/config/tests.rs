#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error by design.

use figment::Jail;
use serde_json::json;

use super::*;

fn none() -> Serialized<serde_json::Value> {
    Serialized::defaults(json!({}))
}

fn load_err(jail_setup: impl FnOnce(&mut Jail) -> figment::error::Result<()>) -> String {
    let mut out = String::new();
    Jail::expect_with(|jail| {
        jail_setup(jail)?;
        out = Config::load(None, none())
            .expect_err("must fail")
            .to_string();
        Ok(())
    });
    out
}

#[test]
fn layers_defaults_file_env_flags_in_order() {
    Jail::expect_with(|jail| {
        jail.create_file("f.toml", "data_dir = \"/from/file\"\n[log]\nlevel = \"debug\"\n[gateway]\nlisten = \"127.0.0.1:9000\"\n")?;
        jail.set_env("FLOWORK_LOG__LEVEL", "warn");
        jail.set_env("FLOWORK_ADMIN_PASSWORD", "not a config key");
        jail.set_env("FLOWORK_TEST_PG", "ignored too");
        let flags = Serialized::defaults(json!({"gateway": {"listen": "127.0.0.1:9100"}}));
        let cfg = Config::load(Some(Path::new("f.toml")), flags).expect("valid");
        assert_eq!(cfg.data_dir, PathBuf::from("/from/file"));
        assert_eq!(cfg.log.level, "warn", "env beats file");
        assert_eq!(cfg.gateway.listen.port(), 9100, "flags beat file");
        assert_eq!(cfg.database.max_connections, 8, "defaults stay");
        Ok(())
    });
}

#[test]
fn unknown_keys_name_the_key_and_source() {
    let err = load_err(|j| {
        j.set_env("FLOWORK_GATEWAY__LISTNE", "127.0.0.1:1");
        Ok(())
    });
    assert!(err.contains("listne"), "{err}");
    assert!(err.contains("FLOWORK_GATEWAY__LISTNE"), "{err}");
    let err = load_err(|j| {
        j.create_file("flowork.toml", "[databse]\nurl = \"x\"\n")?;
        j.set_env("FLOWORK_CONFIG", "flowork.toml");
        Ok(())
    });
    assert!(err.contains("databse"), "{err}");
    assert!(err.contains("flowork.toml"), "{err}");
}

#[test]
fn bad_values_name_the_setting() {
    let err = load_err(|j| {
        j.set_env("FLOWORK_GATEWAY__LISTEN", "not-an-address");
        Ok(())
    });
    assert!(err.contains("gateway.listen"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_DATABASE__URL", "mysql://u:secret@h/db");
        Ok(())
    });
    assert!(
        err.contains("database.url") && err.contains("unsupported scheme"),
        "{err}"
    );
    assert!(!err.contains("secret"), "password leaked: {err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_DATABASE__URL", "postgres://");
        Ok(())
    });
    assert!(err.contains("database.url"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_SCHEDULER__REDIS_URL", "http://u:pw@redis/");
        Ok(())
    });
    assert!(
        err.contains("scheduler.redis_url") && !err.contains(":pw@"),
        "{err}"
    );
    let err = load_err(|j| {
        j.set_env("FLOWORK_LOG__FORMAT", "xml");
        Ok(())
    });
    assert!(err.contains("log.format"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_LICENSE__PUBLIC_KEY", "abc");
        Ok(())
    });
    assert!(err.contains("license.public_key: expected"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_GATEWAY__LICENSE_URL", "grpc://u:pw@lic");
        Ok(())
    });
    assert!(
        err.contains("gateway.license_url") && !err.contains(":pw@"),
        "{err}"
    );
}

#[test]
fn retention_defaults_to_30_days_and_0_keeps_forever() {
    assert_eq!(Config::default().scheduler.retention_days, 30);
    Jail::expect_with(|jail| {
        jail.set_env("FLOWORK_SCHEDULER__RETENTION_DAYS", "0");
        let cfg = Config::load(None, none()).expect("0 is valid");
        assert_eq!(cfg.scheduler.retention_days, 0);
        Ok(())
    });
    let err = load_err(|j| {
        j.set_env("FLOWORK_SCHEDULER__RETENTION_DAYS", "-1");
        Ok(())
    });
    assert!(err.contains("scheduler.retention_days"), "{err}");
    assert!(err.contains("FLOWORK_SCHEDULER__RETENTION_DAYS"), "{err}");
}

#[test]
fn missing_config_file_is_an_error() {
    Jail::expect_with(|_| {
        let err = Config::load(Some(Path::new("nope.toml")), none()).expect_err("missing");
        assert!(err.to_string().contains("nope.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn default_database_is_sqlite_under_data_dir_and_dump_redacts() {
    let mut cfg = Config {
        data_dir: PathBuf::from("/d"),
        ..Config::default()
    };
    assert_eq!(cfg.database_url(), "sqlite:///d/flowork.db");
    cfg.database.url = Some("postgres://flowork:hunter2@db:5432/flowork".into());
    let dumped = cfg.dump().expect("dump");
    assert!(dumped.contains("flowork:***@db"), "{dumped}");
    assert!(!dumped.contains("hunter2"));
}

#[test]
fn gateway_auth_settings_load_and_the_secret_is_not_config() {
    Jail::expect_with(|jail| {
        jail.set_env(
            "FLOWORK_GATEWAY_SECRET",
            "a secret that is no config key at all",
        );
        jail.set_env("FLOWORK_GATEWAY__ACCESS_TOKEN_TTL_SECS", "300");
        jail.set_env("FLOWORK_GATEWAY__CORS_ORIGINS", "[https://app.example, *]");
        let cfg = Config::load(None, none()).expect("valid");
        assert_eq!(cfg.gateway.access_token_ttl_secs, 300);
        assert_eq!(cfg.gateway.refresh_token_ttl_secs, 30 * 86_400);
        assert_eq!(cfg.gateway.cors_origins, ["https://app.example", "*"]);
        Ok(())
    });
    let err = load_err(|j| {
        j.set_env("FLOWORK_GATEWAY__ACCESS_TOKEN_TTL_SECS", "5");
        Ok(())
    });
    assert!(err.contains("gateway.access_token_ttl_secs"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_GATEWAY__CORS_ORIGINS", "[app.example]");
        Ok(())
    });
    assert!(err.contains("gateway.cors_origins"), "{err}");
}

#[test]
fn gateway_link_settings_load_and_are_bounded() {
    Jail::expect_with(|jail| {
        jail.set_env("FLOWORK_GATEWAY__FORWARD_TIMEOUT_SECS", "60");
        jail.set_env("FLOWORK_GATEWAY__WEBHOOK_MAX_BODY_BYTES", "1024");
        let cfg = Config::load(None, none()).expect("valid");
        assert_eq!(cfg.gateway.forward_timeout_secs, 60);
        assert_eq!(cfg.gateway.webhook_max_body_bytes, 1024);
        Ok(())
    });
    assert_eq!(Config::default().gateway.forward_timeout_secs, 300);
    assert_eq!(Config::default().gateway.rate_limit_per_ip, 1000);
    assert_eq!(Config::default().gateway.rate_limit_per_key, 300);
    for (key, value) in [
        ("FLOWORK_GATEWAY__FORWARD_TIMEOUT_SECS", "0"),
        ("FLOWORK_GATEWAY__WEBHOOK_MAX_BODY_BYTES", "0"),
    ] {
        let err = load_err(|j| {
            j.set_env(key, value);
            Ok(())
        });
        let name = key.trim_start_matches("FLOWORK_GATEWAY__").to_lowercase();
        assert!(err.contains(&format!("gateway.{name}")), "{err}");
    }
}

#[test]
fn an_engine_linked_to_a_gateway_opens_no_port_unless_asked() {
    Jail::expect_with(|jail| {
        jail.set_env("FLOWORK_ENGINE_TOKEN", "fke_a token that is no config key");
        jail.set_env("FLOWORK_SCHEDULER__GATEWAY_URL", "https://gw.example.com");
        jail.set_env("FLOWORK_SCHEDULER__ENGINE_ID", "eng_01J0ABC");
        let cfg = Config::load(None, none()).expect("valid");
        assert_eq!(cfg.scheduler.engine_id.as_deref(), Some("eng_01J0ABC"));
        assert!(
            !cfg.opens_port(ServiceName::Scheduler),
            "dials out, listens nowhere"
        );
        assert!(cfg.opens_port(ServiceName::Store));
        jail.set_env("FLOWORK_SCHEDULER__LISTEN", "127.0.0.1:7100");
        let cfg = Config::load(None, none()).expect("valid");
        assert!(
            cfg.opens_port(ServiceName::Scheduler),
            "an explicit listen still listens"
        );
        Ok(())
    });
    assert!(Config::default().opens_port(ServiceName::Scheduler));
}

#[test]
fn the_gateway_link_settings_are_checked() {
    let err = load_err(|j| {
        j.set_env("FLOWORK_SCHEDULER__GATEWAY_URL", "http://127.0.0.1:8000");
        Ok(())
    });
    assert!(err.contains("scheduler.engine_id is required"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_SCHEDULER__ENGINE_ID", "eng_1");
        Ok(())
    });
    assert!(err.contains("scheduler.gateway_url is required"), "{err}");
    for bad in ["gw.example.com", "ftp://gw.example.com", "http://"] {
        let err = load_err(|j| {
            j.set_env("FLOWORK_SCHEDULER__GATEWAY_URL", bad);
            j.set_env("FLOWORK_SCHEDULER__ENGINE_ID", "eng_1");
            Ok(())
        });
        assert!(err.contains("scheduler.gateway_url"), "{bad}: {err}");
    }
    let err = load_err(|j| {
        j.set_env("FLOWORK_SCHEDULER__GATEWAY_URL", "http://127.0.0.1:8000");
        j.set_env("FLOWORK_SCHEDULER__ENGINE_ID", "eng 1\n");
        Ok(())
    });
    assert!(err.contains("scheduler.engine_id"), "{err}");
    let mut cfg = Config::default();
    cfg.scheduler.gateway_url = Some("https://engine:s3cret@gw.example.com".into());
    cfg.scheduler.engine_id = Some("eng_1".into());
    let dumped = cfg.dump().expect("dump");
    assert!(!dumped.contains("s3cret"), "{dumped}");
}

#[test]
fn the_engine_store_url_loads_and_is_checked() {
    Jail::expect_with(|jail| {
        jail.set_env("FLOWORK_SCHEDULER__STORE_URL", "http://127.0.0.1:7101");
        let cfg = Config::load(None, none()).expect("valid");
        assert_eq!(
            cfg.scheduler.store_url.as_deref(),
            Some("http://127.0.0.1:7101")
        );
        Ok(())
    });
    assert_eq!(Config::default().scheduler.store_url, None);
    for bad in [
        "127.0.0.1:7101",
        "grpc://store:7101",
        "http://",
        "not a url",
    ] {
        let err = load_err(|j| {
            j.set_env("FLOWORK_SCHEDULER__STORE_URL", bad);
            Ok(())
        });
        assert!(err.contains("scheduler.store_url"), "{bad}: {err}");
    }
    let mut cfg = Config::default();
    cfg.scheduler.store_url = Some("https://engine:s3cret@store.internal:7101".into());
    let dumped = cfg.dump().expect("dump");
    assert!(!dumped.contains("s3cret"), "{dumped}");
}

#[test]
fn gateway_replica_settings_load_and_are_checked() {
    Jail::expect_with(|jail| {
        jail.set_env("FLOWORK_GATEWAY__REDIS_URL", "redis://:pw@127.0.0.1:6379/");
        jail.set_env("FLOWORK_GATEWAY__ADVERTISE_URL", "http://10.0.0.5:8000");
        let cfg = Config::load(None, none()).expect("valid");
        assert_eq!(
            cfg.gateway.advertise_url.as_deref(),
            Some("http://10.0.0.5:8000")
        );
        assert_eq!(cfg.gateway.redis_prefix, "flowork:gateway");
        assert!(!cfg.dump().expect("dump").contains(":pw@"));
        Ok(())
    });
    let err = load_err(|j| {
        j.set_env("FLOWORK_GATEWAY__REDIS_URL", "http://u:pw@redis/");
        Ok(())
    });
    assert!(
        err.contains("gateway.redis_url") && !err.contains(":pw@"),
        "{err}"
    );
    let err = load_err(|j| {
        j.set_env("FLOWORK_GATEWAY__REDIS_URL", "redis://127.0.0.1/");
        j.set_env("FLOWORK_GATEWAY__LISTEN", "0.0.0.0:8000");
        Ok(())
    });
    assert!(err.contains("gateway.advertise_url"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_GATEWAY__REDIS_URL", "redis://127.0.0.1/");
        j.set_env("FLOWORK_GATEWAY__ADVERTISE_URL", "10.0.0.5:8000");
        Ok(())
    });
    assert!(err.contains("gateway.advertise_url"), "{err}");
}

#[test]
fn integrity_defaults_to_off_without_a_pinned_key_and_names_bad_values() {
    Jail::expect_with(|_| {
        let cfg = Config::load(None, none()).expect("defaults");
        if crate::integrity::PINNED_PUBLIC_KEY.is_none() {
            assert_eq!(cfg.integrity.mode, crate::integrity::IntegrityMode::Off);
        }
        assert_eq!(cfg.integrity.recheck_interval_secs, 300);
        Ok(())
    });
    let err = load_err(|j| {
        j.set_env("FLOWORK_INTEGRITY__MODE", "paranoid");
        Ok(())
    });
    assert!(err.contains("integrity.mode"), "{err}");
    assert!(err.contains("FLOWORK_INTEGRITY__MODE"), "{err}");
    assert!(err.contains("strict"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_INTEGRITY__MODE", "strict");
        j.set_env("FLOWORK_INTEGRITY__PUBLIC_KEY", "not-hex");
        Ok(())
    });
    assert!(err.contains("integrity.public_key: expected"), "{err}");
    let err = load_err(|j| {
        j.set_env("FLOWORK_INTEGRITY__RECHECK_INTERVAL_SECS", "99999999999");
        Ok(())
    });
    assert!(err.contains("integrity.recheck_interval_secs"), "{err}");
    if crate::integrity::PINNED_PUBLIC_KEY.is_none() {
        let err = load_err(|j| {
            j.set_env("FLOWORK_INTEGRITY__MODE", "warn");
            Ok(())
        });
        assert!(
            err.contains("integrity.mode = warn needs integrity.public_key"),
            "{err}"
        );
    }
    Jail::expect_with(|j| {
        // The build-time variable, set while running too, is not mistaken for a config key.
        j.set_env("FLOWORK_INTEGRITY_PUBKEY", "00");
        j.set_env("FLOWORK_INTEGRITY__MODE", "warn");
        j.set_env(
            "FLOWORK_INTEGRITY__PUBLIC_KEY",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        );
        let cfg = Config::load(None, none()).expect("valid");
        assert_eq!(cfg.integrity.mode, crate::integrity::IntegrityMode::Warn);
        Ok(())
    });
}

#[test]
fn versions_policy_from_file_and_env() {
    Jail::expect_with(|jail| {
        let cfg = Config::load(None, none()).expect("defaults");
        assert!(
            cfg.versions.require_signed(false),
            "on for an engine of its own"
        );
        assert!(
            !cfg.versions.require_signed(true),
            "off for the embedded one"
        );
        jail.create_file(
            "f.toml",
            "[versions]\nallowed_authors = [\"0x2c7536e3605d9c16a7a3d7b1898e529396a65c23\"]\n",
        )?;
        jail.set_env("FLOWORK_VERSIONS__REQUIRE_SIGNED", "false");
        jail.set_env("FLOWORK_API_TOKEN", "fk_not-a-config-key");
        let cfg = Config::load(Some(Path::new("f.toml")), none()).expect("valid");
        assert!(
            !cfg.versions.require_signed(false),
            "configured beats the profile"
        );
        assert_eq!(cfg.versions.allowed_authors.len(), 1);
        Ok(())
    });
    let err = load_err(|jail| {
        jail.set_env("FLOWORK_VERSIONS__ALLOWED_AUTHORS", "[0x1234]");
        Ok(())
    });
    assert!(err.contains("versions.allowed_authors"), "{err}");
}
