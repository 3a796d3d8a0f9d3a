//! `nianbao broker setup|definitions`: what an operator does once per broker so that every service
//! can connect as its own, limited user (see `nianbao_bus::grants` and deploy/README.md).

use anyhow::{Context, Result, bail};
use nianbao_bus::BusConfig;
use nianbao_bus::grants::{ServiceUser, definitions, service_names, user_name};
use std::io::Write;
use std::path::Path;

/// The `[bus]` table of a service configuration file (the same retry steps and delivery limit the
/// services use: the topology must match them), then `NIANBAO_BUS__*` variables, then `url` and
/// `ca_file` given on the command line.
pub fn bus_config(
    config: Option<&Path>,
    url: Option<String>,
    ca_file: Option<String>,
) -> Result<BusConfig> {
    let mut cfg = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            #[derive(serde::Deserialize)]
            struct File {
                #[serde(default)]
                bus: BusConfig,
            }
            let file: File =
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
            file.bus
        }
        None => BusConfig::default(),
    };
    if let Some(url) = url {
        cfg.url = url;
    }
    if let Some(ca) = ca_file {
        cfg.ca_file = ca;
    }
    cfg.declare_topology = true;
    Ok(cfg)
}

/// Declares the exchanges, every work queue with its retry steps, parking lot and requeue
/// exchange, and the dead-letter queue (idempotent; a declaration that contradicts an existing
/// queue is refused by the broker with its reason).
pub async fn setup(cfg: &BusConfig, out: &mut impl Write) -> Result<()> {
    let bus = nianbao_bus::Bus::connect(cfg, "nianbao-broker-setup")
        .await
        .context("declaring the topology")?;
    bus.close().await;
    writeln!(
        out,
        "topology declared on {} (exchange {}, retry steps {:?} ms, delivery limit {})",
        nianbao_bus::redact_url(&cfg.url),
        cfg.exchange,
        cfg.retry_delays_ms,
        cfg.delivery_limit
    )?;
    Ok(())
}

/// A password for a service user: 32 characters from [A-Za-z0-9] (safe in a URL as it is).
fn new_password() -> String {
    use rand::Rng as _;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// Reads `<secrets>/<service>` (the service's broker password), creating it (mode 0600) if absent.
fn password(secrets: &Path, service: &str) -> Result<String> {
    let path = secrets.join(service);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let pw = text.trim().to_string();
            if pw.is_empty() {
                bail!("{} is empty", path.display());
            }
            Ok(pw)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(secrets)
                .with_context(|| format!("creating {}", secrets.display()))?;
            let pw = new_password();
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            writeln!(f, "{pw}").with_context(|| format!("writing {}", path.display()))?;
            Ok(pw)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the definitions document (users with password hashes, permissions, topic permissions)
/// for `services` (all when empty) on `vhost`, taking or making each password in `secrets`.
pub fn write_definitions(
    cfg: &BusConfig,
    vhost: &str,
    secrets: &Path,
    services: &[String],
    out_file: Option<&Path>,
    out: &mut impl Write,
) -> Result<()> {
    let known = service_names();
    for s in services {
        if !known.contains(&s.as_str()) {
            bail!("unknown service {s:?} (known: {})", known.join(", "));
        }
    }
    let mut users = Vec::new();
    for service in known {
        if !services.is_empty() && !services.iter().any(|s| s == service) {
            continue;
        }
        users.push(ServiceUser {
            service: service.to_string(),
            user: user_name(service),
            password: password(secrets, service)?,
        });
    }
    let doc = serde_json::to_string_pretty(&definitions(cfg, vhost, &users))?;
    match out_file {
        Some(path) => {
            std::fs::write(path, format!("{doc}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            writeln!(
                out,
                "{} users written to {} (passwords in {}); load with: rabbitmqctl import_definitions {}",
                users.len(),
                path.display(),
                secrets.display(),
                path.display()
            )?;
        }
        None => writeln!(out, "{doc}")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_are_kept_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        let file = dir.path().join("definitions.json");
        let mut out = Vec::new();
        write_definitions(
            &BusConfig::default(),
            "/",
            &secrets,
            &[],
            Some(&file),
            &mut out,
        )
        .unwrap();
        let first = std::fs::read_to_string(secrets.join("extraction")).unwrap();
        assert_eq!(first.trim().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(secrets.join("extraction"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(doc["users"].as_array().map(Vec::len), Some(4));
        assert!(!doc.to_string().contains(first.trim()), "clear password");
        // Again: the same passwords (a second run must not lock the running services out).
        write_definitions(
            &BusConfig::default(),
            "/",
            &secrets,
            &["ingest".into()],
            Some(&file),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(secrets.join("extraction")).unwrap(),
            first
        );
        let e = write_definitions(
            &BusConfig::default(),
            "/",
            &secrets,
            &["crawler".into()],
            None,
            &mut out,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown service"), "{e}");
    }
}
