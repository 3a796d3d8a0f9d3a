//! One broker user per service, allowed only what that service does.
//!
//! A service that shares the administrator's (or `guest`'s) broker user can do anything any other
//! service can: a compromised extraction worker could publish `report.validated` events, drain the
//! notification queue or delete queues. So in a real deployment every service connects as its own
//! user whose permissions name exactly its resources:
//!
//! - **configure**: nothing. The topology (exchanges, queues, bindings) is declared once by an
//!   administrator (`nianbao broker setup`); the services run with `declare_topology = false` and
//!   only check that their queue exists.
//! - **write** (publish): the events exchange, where a *topic permission* limits the routing keys
//!   to the events the service emits (`report.extracted.*`, `report.failed.*` for extraction), and
//!   the requeue exchanges of its own queues (retries, parking).
//! - **read** (consume): its own work queues.
//!
//! [`definitions`] renders these as a RabbitMQ definitions document (`rabbitmqctl
//! import_definitions FILE`, or `load_definitions` in `rabbitmq.conf` for a node that boots with
//! them), with password hashes rather than passwords.

use crate::topology::{DEAD_QUEUE, QueueSpec};
use crate::{BusConfig, Stage};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// What one service's broker user may do: regular expressions over resource names, as RabbitMQ's
/// `set_permissions` and `set_topic_permissions` take them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// `ingest`, `extraction`, `validation` or `notification`.
    pub service: String,
    pub configure: String,
    pub write: String,
    pub read: String,
    /// The exchange the topic permission is on (the events exchange).
    pub topic_exchange: String,
    /// Routing keys the user may publish to `topic_exchange`.
    pub topic_write: String,
}

/// The services, the queues each consumes, and the stages of the events each publishes.
fn services() -> Vec<(&'static str, Vec<String>, Vec<Stage>)> {
    let queues = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    vec![
        (
            "ingest",
            queues(&["nianbao.ingest.status", DEAD_QUEUE]),
            // Received from the outbox; failed for reports the broker dead-lettered.
            vec![Stage::Received, Stage::Failed],
        ),
        (
            "extraction",
            queues(&["nianbao.extraction"]),
            vec![Stage::Extracted, Stage::Failed],
        ),
        (
            "validation",
            queues(&["nianbao.validation"]),
            vec![Stage::Validated, Stage::Failed],
        ),
        (
            "notification",
            queues(&["nianbao.notification"]),
            vec![Stage::Notified, Stage::Failed],
        ),
    ]
}

/// The service names [`grants`] knows, in pipeline order.
pub fn service_names() -> Vec<&'static str> {
    services().into_iter().map(|(name, _, _)| name).collect()
}

/// The user name of a service's broker user.
pub fn user_name(service: &str) -> String {
    format!("nianbao-{service}")
}

/// `^(a|b)$` with each name's regex metacharacters escaped.
fn exactly(names: &[String]) -> String {
    let escaped: Vec<String> = names.iter().map(|n| escape(n)).collect();
    format!("^({})$", escaped.join("|"))
}

fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Every service's grant, for the exchange named in `cfg`.
pub fn grants(cfg: &BusConfig) -> Vec<Grant> {
    services()
        .into_iter()
        .map(|(service, queues, stages)| {
            let mut write = vec![cfg.exchange.clone()];
            write.extend(
                queues
                    .iter()
                    .map(|q| QueueSpec::new(q, &[]).requeue_exchange()),
            );
            let stages: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
            Grant {
                service: service.to_string(),
                configure: "^$".into(),
                write: exactly(&write),
                read: exactly(&queues),
                topic_exchange: cfg.exchange.clone(),
                // Region: the last segment, never empty (see `Stage::routing_key`).
                topic_write: format!(r"^report\.({})\.[^.]+$", stages.join("|")),
            }
        })
        .collect()
}

/// RabbitMQ's `rabbit_password_hashing_sha256` form of `password`: base64 of a 4-byte salt
/// followed by SHA-256(salt ‖ password).
pub fn password_hash(password: &str) -> String {
    let salt: [u8; 4] = rand::random();
    hash_with_salt(salt, password)
}

fn hash_with_salt(salt: [u8; 4], password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    let mut out = salt.to_vec();
    out.extend_from_slice(&h.finalize());
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// The broker user a service connects as.
#[derive(Clone)]
pub struct ServiceUser {
    pub service: String,
    /// Usually [`user_name`]`(service)`.
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for ServiceUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceUser")
            .field("service", &self.service)
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// A definitions document: the vhost, and for every user in `users` the user (password hash),
/// its permissions and its topic permission on `vhost`. A user of an unknown service is left out.
pub fn definitions(cfg: &BusConfig, vhost: &str, users: &[ServiceUser]) -> serde_json::Value {
    let grants = grants(cfg);
    let mut user_docs = Vec::new();
    let mut permissions = Vec::new();
    let mut topic_permissions = Vec::new();
    for user in users {
        let Some(grant) = grants.iter().find(|g| g.service == user.service) else {
            continue;
        };
        user_docs.push(serde_json::json!({
            "name": user.user,
            "password_hash": password_hash(&user.password),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": "",
        }));
        permissions.push(serde_json::json!({
            "user": user.user,
            "vhost": vhost,
            "configure": grant.configure,
            "write": grant.write,
            "read": grant.read,
        }));
        topic_permissions.push(serde_json::json!({
            "user": user.user,
            "vhost": vhost,
            "exchange": grant.topic_exchange,
            "write": grant.topic_write,
            "read": ".*",
        }));
    }
    serde_json::json!({
        "users": user_docs,
        "vhosts": [{ "name": vhost }],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the broker applies them (an unanchored search; ours are anchored).
    fn matches(re: &str, name: &str) -> bool {
        regex::Regex::new(re).is_ok_and(|r| r.is_match(name))
    }

    #[test]
    fn each_service_reads_only_its_own_queues_and_writes_only_its_exchanges() {
        let g = grants(&BusConfig::default());
        let by = |s: &str| g.iter().find(|x| x.service == s).cloned();
        let extraction = by("extraction").unwrap_or_else(|| panic!("no extraction grant"));
        assert_eq!(extraction.configure, "^$");
        assert!(matches(&extraction.read, "nianbao.extraction"));
        assert!(!matches(&extraction.read, "nianbao.notification"));
        assert!(!matches(&extraction.read, "nianbao.extraction.parked"));
        assert!(matches(&extraction.write, "nianbao.events"));
        assert!(matches(&extraction.write, "nianbao.extraction.requeue"));
        assert!(!matches(&extraction.write, "nianbao.validation.requeue"));
        assert!(!matches(&extraction.write, "amq.default"));
        assert!(matches(&extraction.topic_write, "report.extracted.390100"));
        assert!(matches(&extraction.topic_write, "report.failed.000000"));
        assert!(!matches(&extraction.topic_write, "report.validated.390100"));
        assert!(!matches(&extraction.topic_write, "report.extracted.39.01"));
        let ingest = by("ingest").unwrap_or_else(|| panic!("no ingest grant"));
        assert!(matches(&ingest.read, "nianbao.dead"));
        assert!(matches(&ingest.read, "nianbao.ingest.status"));
        assert!(matches(&ingest.write, "nianbao.dead.requeue"));
        assert_eq!(g.len(), service_names().len());
        // Every work queue of the pipeline is read by exactly one service.
        for q in crate::pipeline_queues() {
            let readers = g.iter().filter(|x| matches(&x.read, &q.name)).count();
            assert_eq!(readers, 1, "{}", q.name);
        }
    }

    #[test]
    fn the_password_hash_is_rabbitmqs_salted_sha256() {
        // Computed independently: base64(salt ‖ sha256(salt ‖ "secret")) for salt 01 02 03 04.
        let h = hash_with_salt([1, 2, 3, 4], "secret");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&h)
            .unwrap_or_default();
        assert_eq!(raw.len(), 36);
        assert_eq!(&raw[..4], &[1, 2, 3, 4]);
        let mut d = Sha256::new();
        d.update([1u8, 2, 3, 4]);
        d.update(b"secret");
        assert_eq!(&raw[4..], d.finalize().as_slice());
        assert_ne!(password_hash("secret"), password_hash("secret"), "salted");
    }

    #[test]
    fn definitions_list_only_services_with_a_password() {
        let users = [
            ServiceUser {
                service: "extraction".into(),
                user: user_name("extraction"),
                password: "pw".into(),
            },
            ServiceUser {
                service: "unknown".into(),
                user: "x".into(),
                password: "pw".into(),
            },
        ];
        let v = definitions(&BusConfig::default(), "/", &users);
        let doc = v.to_string();
        assert_eq!(v["users"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["users"][0]["name"], "nianbao-extraction");
        assert_eq!(v["permissions"][0]["configure"], "^$");
        assert_eq!(v["topic_permissions"][0]["exchange"], "nianbao.events");
        assert!(!doc.contains("\"pw\""), "no clear password in {doc}");
    }
}
