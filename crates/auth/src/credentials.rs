//! Credentials as an operator issues them, and the identities they stand for.
//!
//! One TOML file holds every credential of a deployment: its id, role, subject (the agency or the
//! office it speaks for), a person's or system's name for the audit trail, and the SHA-256 of its
//! token or of the client certificate that stands for it. The file holds no secret: a token is
//! shown once, when it is issued, so the file can be a ConfigMap and a backup leaks nothing. Every
//! service reads the same file and notices when it changes (a revocation takes effect within
//! [`RELOAD_AFTER`] without a restart).
//!
//! Tokens are 256 random bits, so one SHA-256 is enough to store them (a slow password hash
//! protects guessable secrets; these are not guessable).

use crate::AuthError;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// What a credential allows (see the README's table of who may call what).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An agency submitting its own reports and reading their status; `subject` is the agency.
    Agency,
    /// A supervising office (政务公开办) user; `subject` is the office id of the directory. Sees and
    /// acknowledges what its office and the offices below it supervise.
    Office,
    /// A crawler submitting reports it found, for any agency it names (recorded as unverified).
    Crawler,
    /// A province operator: every read, channel health, submissions on an agency's behalf.
    Operator,
    /// An extraction worker: fetches raw reports (`FetchReport`), nothing else.
    Extraction,
    /// Every call when authentication is disabled (`[auth] disabled`, loopback only): may do what
    /// any role may. Never issued.
    Local,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agency => "agency",
            Role::Office => "office",
            Role::Crawler => "crawler",
            Role::Operator => "operator",
            Role::Extraction => "extraction",
            Role::Local => "local",
        }
    }

    /// The Chinese name, for messages officials read.
    pub fn chinese(self) -> &'static str {
        match self {
            Role::Agency => "报告机关",
            Role::Office => "政务公开办",
            Role::Crawler => "采集程序",
            Role::Operator => "运维人员",
            Role::Extraction => "解析服务",
            Role::Local => "本机（未启用身份验证）",
        }
    }

    /// Roles whose credential names a subject (an agency, an office).
    pub fn needs_subject(self) -> bool {
        matches!(self, Role::Agency | Role::Office)
    }
}

impl std::str::FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Role, AuthError> {
        Ok(match s.trim() {
            "agency" => Role::Agency,
            "office" => Role::Office,
            "crawler" => Role::Crawler,
            "operator" => Role::Operator,
            "extraction" => Role::Extraction,
            other => {
                return Err(AuthError::Invalid(format!(
                    "unknown role {other:?} (agency, office, crawler, operator, extraction)"
                )));
            }
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The caller of a request, as its credential says. Handlers read it from the request's
/// extensions ([`crate::grpc::caller`]); nothing a request *says* about its sender is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub credential_id: String,
    pub role: Role,
    /// The agency name (role agency) or office id (role office); empty for the other roles.
    pub subject: String,
    /// Who holds the credential (a person, a system), for audit records and `acknowledged_by`.
    pub name: String,
}

impl Identity {
    /// The identity every call gets when authentication is disabled (loopback only).
    pub fn local() -> Identity {
        Identity {
            credential_id: String::new(),
            role: Role::Local,
            subject: String::new(),
            name: "local (authentication disabled)".into(),
        }
    }

    pub fn agency(&self) -> Option<&str> {
        (self.role == Role::Agency).then_some(self.subject.as_str())
    }

    pub fn office(&self) -> Option<&str> {
        (self.role == Role::Office).then_some(self.subject.as_str())
    }

    /// One line for logs and audit records: `张三 (office 390102, credential k-3f9a…)`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} ({}", self.name, self.role);
        if !self.subject.is_empty() {
            s.push(' ');
            s.push_str(&self.subject);
        }
        if !self.credential_id.is_empty() {
            s.push_str(", credential ");
            s.push_str(&self.credential_id);
        }
        s.push(')');
        s
    }
}

/// One issued credential as the file stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub id: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    pub name: String,
    /// SHA-256 (hex) of the token; empty for a certificate credential.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_sha256: String,
    /// SHA-256 (hex) of the client certificate (DER) that stands for this credential over mTLS.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_sha256: String,
    pub issued_at_ms: i64,
    /// Unix milliseconds of the revocation; 0 while valid.
    #[serde(default)]
    pub revoked_at_ms: i64,
}

impl Record {
    pub fn identity(&self) -> Identity {
        Identity {
            credential_id: self.id.clone(),
            role: self.role,
            subject: self.subject.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default, rename = "credential")]
    credentials: Vec<Record>,
}

const HEADER: &str = "# nianbao credentials, written by `nianbao credentials issue|revoke`.\n\
# Holds only SHA-256 hashes of tokens and certificates: a token is shown once, when issued.\n\
# Every service reads this file ([auth] credentials) and notices changes within seconds.\n\n";

/// The prefix of every token, so that a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "nbt_";

/// How long a service trusts its copy of the file before it looks at the file's time again (a
/// revocation takes effect within it).
pub const RELOAD_AFTER: Duration = Duration::from_secs(1);

/// After a token or certificate it does not know, a service reads the file again at once and
/// compares its content (a hash) with what it holds, so a credential issued a moment ago works on
/// its first call. The file's `stat` alone cannot tell: two credentials issued within one tick of
/// the kernel's clock can leave the same time and length, and the inode of a file replaced by
/// rename is reused (CI saw exactly that). A flood of unknown tokens costs a read of this small
/// file each: less than the TLS handshake and the hash the caller has already made the service do.
/// (A rate limit here once refused credentials issued within it.)
pub const RECHECK_ON_MISS: Duration = Duration::ZERO;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Reads every record of a credentials file (a missing file has none).
pub fn read_records(path: &Path) -> Result<Vec<Record>, AuthError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AuthError::Read {
                path: path.into(),
                source,
            });
        }
    };
    parse(&text, path)
}

fn parse(text: &str, path: &Path) -> Result<Vec<Record>, AuthError> {
    let file: File = toml::from_str(text).map_err(|e| AuthError::CredentialsFile {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let mut ids = std::collections::HashSet::new();
    for r in &file.credentials {
        let bad = |reason: String| AuthError::CredentialsFile {
            path: path.into(),
            reason,
        };
        if r.role == Role::Local {
            return Err(bad(format!(
                "credential {}: role local is never issued",
                r.id
            )));
        }
        if !ids.insert(r.id.as_str()) {
            return Err(bad(format!("credential id {} appears twice", r.id)));
        }
        if r.role.needs_subject() && r.subject.trim().is_empty() {
            return Err(bad(format!(
                "credential {} (role {}) names no subject",
                r.id, r.role
            )));
        }
        if r.token_sha256.is_empty() == r.cert_sha256.is_empty() {
            return Err(bad(format!(
                "credential {} must have exactly one of token_sha256 and cert_sha256",
                r.id
            )));
        }
    }
    Ok(file.credentials)
}

fn write_records(path: &Path, records: &[Record]) -> Result<(), AuthError> {
    let body = toml::to_string(&File {
        credentials: records.to_vec(),
    })
    .map_err(|e| AuthError::Invalid(e.to_string()))?;
    let write_err = |source| AuthError::Write {
        path: path.into(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    // Write beside it, then rename: a service reading the file never sees half of it.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{HEADER}{body}")).map_err(write_err)?;
    std::fs::rename(&tmp, path).map_err(write_err)
}

/// What an operator asks for when issuing a credential.
#[derive(Clone, Debug)]
pub struct Request {
    pub role: Role,
    pub subject: String,
    pub name: String,
    /// PEM of a client certificate to stand for the credential instead of a token.
    pub cert_pem: Option<String>,
}

/// A credential just issued: its record and, for a token credential, the token (shown once).
pub struct Issued {
    pub record: Record,
    pub token: Option<String>,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("record", &self.record)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Holds an exclusive lock on `PATH.lock` beside the credentials file while an operator command
/// reads, changes and writes it: two operators issuing at the same moment would otherwise each
/// write back what they read, and one credential would be lost. Readers (the services) do not
/// lock: they see the old file or the new one, as each write is a rename.
struct WriteLock(std::fs::File);

impl WriteLock {
    fn take(path: &Path) -> Result<WriteLock, AuthError> {
        let write_err = |source| AuthError::Write {
            path: path.into(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::path::PathBuf::from(name))
            .map_err(write_err)?;
        file.lock().map_err(write_err)?;
        Ok(WriteLock(file))
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Adds a credential to the file at `path` (created if missing).
pub fn issue(path: &Path, req: &Request) -> Result<Issued, AuthError> {
    if req.role == Role::Local {
        return Err(AuthError::Invalid("role local is never issued".into()));
    }
    let subject = req.subject.trim().to_string();
    if req.role.needs_subject() && subject.is_empty() {
        return Err(AuthError::Invalid(format!(
            "a {} credential needs its {}",
            req.role,
            if req.role == Role::Agency {
                "agency (--agency NAME)"
            } else {
                "office (--office ID)"
            }
        )));
    }
    if !req.role.needs_subject() && !subject.is_empty() {
        return Err(AuthError::Invalid(format!(
            "a {} credential names no agency or office",
            req.role
        )));
    }
    let _lock = WriteLock::take(path)?;
    let mut records = read_records(path)?;
    let random: [u8; 32] = rand::random();
    let id = format!("k-{}", &hex::encode(Sha256::digest(random))[..12]);
    let (token, token_sha256, cert_sha256) = match &req.cert_pem {
        Some(pem) => {
            let der = crate::tls::first_cert_der(pem.as_bytes())?;
            (None, String::new(), sha256_hex(&der))
        }
        None => {
            let token = format!(
                "{TOKEN_PREFIX}{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
            );
            let hash = sha256_hex(token.as_bytes());
            (Some(token), hash, String::new())
        }
    };
    if !cert_sha256.is_empty()
        && records
            .iter()
            .any(|r| r.revoked_at_ms == 0 && r.cert_sha256 == cert_sha256)
    {
        return Err(AuthError::Invalid(
            "this certificate already stands for a valid credential".into(),
        ));
    }
    let name = if req.name.trim().is_empty() {
        if subject.is_empty() {
            req.role.as_str().to_string()
        } else {
            subject.clone()
        }
    } else {
        req.name.trim().to_string()
    };
    let record = Record {
        id,
        role: req.role,
        subject,
        name,
        token_sha256,
        cert_sha256,
        issued_at_ms: now_ms(),
        revoked_at_ms: 0,
    };
    records.push(record.clone());
    write_records(path, &records)?;
    Ok(Issued { record, token })
}

/// Marks credential `id` revoked (kept in the file for the audit trail).
pub fn revoke(path: &Path, id: &str) -> Result<Record, AuthError> {
    let _lock = WriteLock::take(path)?;
    let mut records = read_records(path)?;
    let r = records
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| AuthError::UnknownCredential(id.to_string()))?;
    if r.revoked_at_ms == 0 {
        r.revoked_at_ms = now_ms();
    }
    let out = r.clone();
    write_records(path, &records)?;
    Ok(out)
}

#[derive(Default)]
struct Table {
    by_token: HashMap<String, Identity>,
    by_cert: HashMap<String, Identity>,
}

impl Table {
    fn of(records: &[Record]) -> Table {
        let mut t = Table::default();
        for r in records.iter().filter(|r| r.revoked_at_ms == 0) {
            if !r.token_sha256.is_empty() {
                t.by_token
                    .insert(r.token_sha256.to_ascii_lowercase(), r.identity());
            }
            if !r.cert_sha256.is_empty() {
                t.by_cert
                    .insert(r.cert_sha256.to_ascii_lowercase(), r.identity());
            }
        }
        t
    }
}

struct State {
    table: Table,
    modified: Option<Stamp>,
    /// SHA-256 of the text the table was read from.
    digest: String,
    checked: Instant,
}

/// What tells a changed file: its modification time alone does not, since the kernel stamps it
/// coarsely (two credentials issued within a few milliseconds leave the same time), so the length
/// and, where there is one, the inode (a file replaced by rename) count too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The valid credentials of a deployment, as a service verifies callers against them. Reads the
/// file again when it changes (modification time, length or inode) (looked at no more than every [`RELOAD_AFTER`]);
/// a file that became unreadable keeps the last good table and is logged.
pub struct Credentials {
    path: Option<PathBuf>,
    state: Mutex<State>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn modified(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

impl Credentials {
    /// The credentials of the file at `path`; it must exist and be valid (a service that starts
    /// with none would refuse every call).
    pub fn load(path: &Path) -> Result<Credentials, AuthError> {
        // The stamp before the text: a file replaced in between is then seen as changed.
        let stamp = modified(path);
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.into(),
            source,
        })?;
        let records = parse(&text, path)?;
        Ok(Credentials {
            path: Some(path.into()),
            state: Mutex::new(State {
                table: Table::of(&records),
                modified: stamp,
                digest: sha256_hex(text.as_bytes()),
                checked: Instant::now(),
            }),
        })
    }

    /// Fixed credentials that are never reloaded (tests).
    pub fn from_records(records: &[Record]) -> Credentials {
        Credentials {
            path: None,
            state: Mutex::new(State {
                table: Table::of(records),
                modified: None,
                digest: String::new(),
                checked: Instant::now(),
            }),
        }
    }

    /// The table, read again first if the file changed and it was last looked at `after` ago:
    /// changed by its `stat`, or with `by_content` by the hash of its text.
    fn state(&self, after: Duration, by_content: bool) -> std::sync::MutexGuard<'_, State> {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = &self.path
            && st.checked.elapsed() >= after
        {
            st.checked = Instant::now();
            let now = modified(path);
            if now != st.modified || by_content {
                match std::fs::read_to_string(path)
                    .map_err(|source| AuthError::Read {
                        path: path.clone(),
                        source,
                    })
                    .and_then(|text| Ok((sha256_hex(text.as_bytes()), parse(&text, path)?)))
                {
                    Ok((digest, _)) if digest == st.digest => st.modified = now,
                    Ok((digest, records)) => {
                        st.table = Table::of(&records);
                        st.modified = now;
                        st.digest = digest;
                        tracing::info!(path = %path.display(), valid = st.table.by_token.len() + st.table.by_cert.len(), "credentials reloaded");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "credentials file unreadable; keeping the last good one");
                    }
                }
            }
        }
        st
    }

    /// The identity a bearer token stands for, if it is a valid credential's.
    pub fn verify_token(&self, token: &str) -> Option<Identity> {
        let token = token.trim();
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return None;
        }
        let hash = sha256_hex(token.as_bytes());
        self.lookup(|t| t.by_token.get(&hash).cloned())
    }

    /// The identity a client certificate (DER, as presented over mTLS) stands for.
    pub fn verify_cert(&self, der: &[u8]) -> Option<Identity> {
        let hash = sha256_hex(der);
        self.lookup(|t| t.by_cert.get(&hash).cloned())
    }

    fn lookup(&self, find: impl Fn(&Table) -> Option<Identity>) -> Option<Identity> {
        // Two statements: the first guard must be dropped before the second lock is taken.
        let found = find(&self.state(RELOAD_AFTER, false).table);
        if found.is_some() {
            return found;
        }
        let st = self.state(RECHECK_ON_MISS, true);
        find(&st.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(role: Role, subject: &str) -> Request {
        Request {
            role,
            subject: subject.into(),
            name: String::new(),
            cert_pem: None,
        }
    }

    /// Operators issuing at the same moment: every credential is in the file (each command reads,
    /// adds and writes back under the lock; without it, records were lost or the write failed).
    #[test]
    fn credentials_issued_at_the_same_moment_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    (0..10)
                        .map(|i| {
                            issue(&path, &req(Role::Agency, &format!("机关{t}-{i}")))
                                .unwrap()
                                .record
                                .id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let issued: Vec<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let kept = read_records(&path).unwrap();
        assert_eq!(kept.len(), 80);
        for id in &issued {
            assert!(kept.iter().any(|r| &r.id == id), "{id} was lost");
        }
    }

    /// CI: the service read the file, a credential was issued (the file replaced), and only then
    /// did the service take the file's stamp; the stamp then never changed again, and the new
    /// credential was refused. On a miss the content decides.
    #[test]
    fn a_credential_issued_while_the_file_was_being_read_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        issue(&path, &req(Role::Operator, "")).unwrap();
        let creds = Credentials::load(&path).unwrap();
        let late = issue(&path, &req(Role::Operator, "")).unwrap();
        // What the race left: the new file's stamp with the old file's table.
        creds
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .modified = modified(&path);
        let token = late.token.unwrap();
        assert!(
            creds.verify_token(&token).is_some(),
            "the new credential is refused"
        );
    }

    #[test]
    fn an_issued_token_verifies_as_its_identity_and_the_file_holds_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.toml");
        let a = issue(&path, &req(Role::Agency, "江州市自然资源局")).unwrap();
        let o = issue(
            &path,
            &Request {
                name: "张三".into(),
                ..req(Role::Office, "390102")
            },
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let token = a.token.clone().unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert!(!text.contains(&token), "{text}");
        assert!(!format!("{a:?}").contains(&token));

        let creds = Credentials::load(&path).unwrap();
        let id = creds.verify_token(&token).unwrap();
        assert_eq!(id.role, Role::Agency);
        assert_eq!(id.agency(), Some("江州市自然资源局"));
        assert_eq!(id.office(), None);
        let id = creds.verify_token(o.token.as_deref().unwrap()).unwrap();
        assert_eq!(id.office(), Some("390102"));
        assert_eq!(id.name, "张三");
        assert!(id.describe().contains("张三 (office 390102"));
        assert_eq!(creds.verify_token("nbt_forged"), None);
        assert_eq!(creds.verify_token(""), None);
    }

    #[test]
    fn a_revoked_credential_stops_verifying_once_the_file_is_seen_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.toml");
        let a = issue(&path, &req(Role::Crawler, "")).unwrap();
        let token = a.token.unwrap();
        let creds = Credentials::load(&path).unwrap();
        assert!(creds.verify_token(&token).is_some());
        let r = revoke(&path, &a.record.id).unwrap();
        assert!(r.revoked_at_ms > 0);
        // The next call looks at the file (the revocation may carry the same coarse time).
        creds.state.lock().unwrap().checked -= RELOAD_AFTER;
        assert_eq!(creds.verify_token(&token), None);
        assert!(matches!(
            revoke(&path, "k-nope"),
            Err(AuthError::UnknownCredential(_))
        ));
    }

    #[test]
    fn a_credential_issued_after_loading_verifies_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.toml");
        issue(&path, &req(Role::Operator, "")).unwrap();
        let creds = Credentials::load(&path).unwrap();
        // Written within the same coarse clock tick as the first, often: still seen.
        let later = issue(&path, &req(Role::Agency, "某县财政局")).unwrap();
        let id = creds.verify_token(later.token.as_deref().unwrap()).unwrap();
        assert_eq!(id.agency(), Some("某县财政局"));
    }

    #[test]
    fn bad_requests_and_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.toml");
        assert!(issue(&path, &req(Role::Agency, " ")).is_err());
        assert!(issue(&path, &req(Role::Operator, "390102")).is_err());
        assert!("admin".parse::<Role>().is_err());
        std::fs::write(&path, "[[credential]]\nid = \"x\"\nrole = \"office\"\nname = \"n\"\ntoken_sha256 = \"ab\"\nissued_at_ms = 0\n").unwrap();
        let e = Credentials::load(&path).unwrap_err().to_string();
        assert!(e.contains("names no subject"), "{e}");
        std::fs::write(&path, "not toml [").unwrap();
        assert!(Credentials::load(&path).is_err());
        assert!(Credentials::load(&dir.path().join("missing.toml")).is_err());
    }
}
