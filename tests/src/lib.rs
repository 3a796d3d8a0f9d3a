//! Harness for the cross-service tests: real RabbitMQ nodes and PostgreSQL clusters, private to the
//! test process, started from `deploy/scripts/rabbitmq.sh` and `deploy/scripts/postgres.sh`.
//!
//! The scripts do the work (free loopback ports, unique node names, waiting until ready, stopping by
//! pid), so that a person can start the same broker by hand and CI and tests agree on one recipe.
//! This crate wraps them in RAII values and adds what a test process needs: temporary folders under
//! the build directory, one shared server per test binary, and clean-up even when the process dies.
//!
//! # Sharing one broker per test binary
//!
//! Booting RabbitMQ takes about 7 s (PostgreSQL about 1 s), so tests in one binary share a server
//! through [`shared_broker`] / [`shared_postgres`] and isolate themselves by naming: a queue or
//! database name with [`unique_suffix`] in it, or a fresh database from [`new_database`].
//!
//! ```no_run
//! let broker = nianbao_e2e::shared_broker(); // started on first use, ~7 s
//! let queues = broker.rabbitmqctl(&["-q", "list_queues", "name", "messages"])?;
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! A shared server lives in a `static`, and Rust never drops statics at exit. So every server, shared
//! or not, gets a *watchdog* when it starts: a small `sh` process in its own process group that
//! polls the test process (`kill -0 PID`, every second) and, once it is gone, runs
//! `<script> stop DIR` and removes DIR. That covers a normal exit, a panic that aborts, a failed
//! assertion in another test, and Ctrl-C (the servers and the watchdog are outside the terminal's
//! process group, so the signal reaches only the test process). Only `SIGKILL` of the watchdog
//! itself leaves a server running. A server that is dropped normally ([`Broker`], [`Postgres`]
//! values owned by a test) is stopped at once by `Drop`, which then ends its watchdog.
//!
//! # Requirements
//!
//! Debian's `rabbitmq-server` and PostgreSQL packages (`deploy/scripts/rabbitmq.sh install`,
//! `deploy/scripts/postgres.sh install`; CI installs both). Without them, starting fails with an
//! error naming the install command: there is no silent skip, because a cross-service test that
//! did not run must not look like one that passed. PostgreSQL refuses to run as root; under root the
//! script runs it as the system user `nianbao-pg`.

pub mod bus;
pub mod offline;
pub mod pipeline;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

/// The checkout's root folder (the workspace root, parent of this crate).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// `../shared/seeds` beside the checkout, if it is there (CI has it; a bare checkout may not).
///
/// # Panics
///
/// Under CI (`CI` set to `true` or `1`) when the folder is missing: a test that would silently use
/// fewer reports must not pass there.
pub fn seeds_dir() -> Option<PathBuf> {
    let dir = repo_root().parent()?.join("shared").join("seeds");
    if dir.is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    assert!(
        !ci,
        "{} is missing: under CI the real reports must sit beside the checkout",
        dir.display()
    );
    None
}

/// Cargo's target folder: `CARGO_TARGET_DIR` when set (relative to the checkout if relative), else
/// `<repo>/target`. The harness keeps its temporary folders there so that nothing it creates escapes
/// the build folder, and `cargo clean` removes any leftovers.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        }
        _ => repo_root().join("target"),
    }
}

/// `<target>/e2e-tmp`, created if needed: the parent of every server folder the harness makes.
pub fn e2e_tmp_dir() -> Result<PathBuf> {
    let dir = target_dir().join("e2e-tmp");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Installs a `tracing` subscriber for tests once per process: `RUST_LOG` when set, else `info`,
/// written through the test writer so that libtest captures it per test (shown for failing tests).
/// A subscriber installed earlier by someone else is kept.
pub fn init_test_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        // An Err only means a global subscriber exists already: keep it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stdout().is_terminal())
            .with_test_writer()
            .try_init();
    });
}

/// 16 hex digits, different on every call (process id, time, a counter and a random key): for queue,
/// exchange and database names, so that tests sharing one server do not see each other's objects.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", hasher.finish())
}

/// A private RabbitMQ node (`rabbitmq.sh start`), stopped when dropped.
///
/// AMQP listens on 127.0.0.1 on a free port; the `guest` user (loopback-only) is the one to use.
/// AMQPS listens too, with a certificate for `localhost` from a CA made for this node.
pub struct Broker {
    /// `amqp://guest:guest@127.0.0.1:PORT/%2f`, for `lapin::Connection::connect`.
    pub amqp_url: String,
    /// `amqps://guest:guest@localhost:PORT/%2f`, verified with [`Broker::ca_file`].
    pub amqps_url: String,
    server: Server,
}

impl Broker {
    /// Starts a node in a new folder under [`e2e_tmp_dir`] and waits until it is fully booted
    /// (about 7 s; more while other nodes boot). Fails with the install command when RabbitMQ is
    /// missing, and with the node's log tail when it does not boot.
    pub fn start() -> Result<Broker> {
        Broker::start_with_tls(None)
    }

    /// [`Broker::start`] with the TLS files (`ca.pem`, `server.pem`, `server-key.pem`) of
    /// `tls_from` instead of new ones: the nodes of one cluster share them, so that one CA file
    /// verifies them all.
    fn start_with_tls(tls_from: Option<&Path>) -> Result<Broker> {
        let (server, amqp_url) = Server::start(&RABBITMQ, |dir| match tls_from {
            Some(from) => {
                std::fs::create_dir_all(dir.join("tls"))?;
                for f in ["ca.pem", "server.pem", "server-key.pem"] {
                    std::fs::copy(from.join(f), dir.join("tls").join(f))
                        .with_context(|| format!("copying {f}"))?;
                }
                Ok(())
            }
            None => nianbao_auth::pki::write_local(&dir.join("tls"), &["localhost".to_string()])
                .map(|_| ())
                .context("writing the broker's TLS certificate"),
        })?;
        let path = server.dir().join("amqps_url");
        let amqps_url = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_owned();
        Ok(Broker {
            amqp_url,
            amqps_url,
            server,
        })
    }

    /// The CA that signed the node's TLS certificate (PEM), for `bus.ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.server.dir().join("tls").join("ca.pem")
    }

    /// Stops the node (graceful, about 4–8 s) and its watchdog. Idempotent; a failure is printed,
    /// not raised, because this also runs from `Drop` (see [`Broker::try_stop`]).
    pub fn stop(&mut self) {
        self.server.stop_or_report();
    }

    /// [`Broker::stop`], returning the failure instead of printing it.
    pub fn try_stop(&mut self) -> Result<()> {
        self.server.stop()
    }

    /// Starts a stopped node again, in its folder: the same node name, ports and data (it rejoins
    /// its cluster).
    pub fn restart(&mut self) -> Result<()> {
        self.server.start_again()
    }

    /// The node's Erlang name (`nianbao-…@localhost`), as `rabbitmqctl` lists cluster members and
    /// queue leaders.
    pub fn node_name(&self) -> Result<String> {
        let identity = std::fs::read_to_string(self.dir().join("identity"))
            .context("reading the node's identity")?;
        let short = identity.split_whitespace().next().unwrap_or_default();
        Ok(format!("{short}@localhost"))
    }

    /// Runs `rabbitmqctl ARGS` against this node and returns its standard output, e.g.
    /// `rabbitmqctl(&["-q", "list_queues", "name", "messages"])`. Takes about 0.5 s (an Erlang VM
    /// starts for each call), so poll sparingly.
    pub fn rabbitmqctl(&self, args: &[&str]) -> Result<String> {
        self.server.run("ctl", args)
    }

    /// The node's folder: `server.out` and `log/` hold its logs, `env` addresses it by hand
    /// (`. DIR/env && "$NIANBAO_RABBITMQ_SBIN/rabbitmqctl" status`).
    pub fn dir(&self) -> &Path {
        self.server.dir()
    }
}

/// Private RabbitMQ nodes joined into one cluster (`rabbitmq.sh join`), sharing one TLS
/// certificate; each stopped when dropped. Users, vhosts and the quorum queues' replicas are on
/// every node.
pub struct BrokerCluster {
    pub nodes: Vec<Broker>,
}

impl BrokerCluster {
    /// `n` nodes, the others joined to the first (each join resets the joining node and waits for
    /// it to boot again: about 10 s a node, more on a busy machine).
    pub fn start(n: usize) -> Result<BrokerCluster> {
        let first = Broker::start()?;
        let tls = first.dir().join("tls");
        let mut nodes = vec![first];
        for _ in 1..n {
            let node = Broker::start_with_tls(Some(&tls))?;
            node.server
                .run("join", &[&nodes[0].dir().display().to_string()])?;
            nodes.push(node);
        }
        Ok(BrokerCluster { nodes })
    }

    /// `url` (an `amqps://…@localhost:PORT/…` URL of the first node, as [`Pipeline`] hands them
    /// out) pointed at node `i`: users and vhosts are the same on every node.
    ///
    /// [`Pipeline`]: crate::pipeline::Pipeline
    pub fn url_on(&self, url: &str, i: usize) -> String {
        let port = |u: &str| {
            u.rsplit(':')
                .next()
                .unwrap_or_default()
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string()
        };
        let (from, to) = (
            port(&self.nodes[0].amqps_url),
            port(&self.nodes[i].amqps_url),
        );
        url.replacen(
            &format!("localhost:{from}/"),
            &format!("localhost:{to}/"),
            1,
        )
    }

    /// The index of the node named `name` (see [`Broker::node_name`]).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|b| b.node_name().is_ok_and(|n| n == name))
    }
}

/// A private PostgreSQL cluster (`postgres.sh start`), stopped when dropped.
///
/// Listens on 127.0.0.1 on a free port, trusts local TCP connections as user `postgres`, runs with
/// fsync off: test data only.
pub struct Postgres {
    /// `postgres://postgres@127.0.0.1:PORT/postgres`, the maintenance database. Tests should work in
    /// a database of their own from [`new_database`].
    pub url: String,
    server: Server,
}

impl Postgres {
    /// Starts a cluster in a new folder under [`e2e_tmp_dir`] (initdb + start, about 1 s) and waits
    /// until `pg_isready`.
    pub fn start() -> Result<Postgres> {
        let (server, url) = Server::start(&POSTGRES, |_| Ok(()))?;
        Ok(Postgres { url, server })
    }

    /// Stops the cluster (`pg_ctl stop -m fast`) and its watchdog. Idempotent; a failure is printed.
    pub fn stop(&mut self) {
        self.server.stop_or_report();
    }

    /// [`Postgres::stop`], returning the failure instead of printing it.
    pub fn try_stop(&mut self) -> Result<()> {
        self.server.stop()
    }

    /// Runs one SQL command with `psql` in `database` (a name, or a URL from [`new_database`]) and
    /// returns the rows unaligned, one per line, columns separated by `|`.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        self.server.run(
            "psql",
            &["-v", "ON_ERROR_STOP=1", "-qAt", "-d", database, "-c", sql],
        )
    }

    /// The cluster's folder (`postgres.log`, `env` for psql by hand).
    pub fn dir(&self) -> &Path {
        self.server.dir()
    }
}

/// Creates an empty database named `<prefix>_<unique suffix>` (the prefix reduced to lower-case
/// letters, digits and `_`) and returns its URL. Lets tests share one cluster without sharing tables.
pub fn new_database(pg: &Postgres, name_prefix: &str) -> Result<String> {
    let name = database_name(name_prefix);
    pg.psql("postgres", &format!("CREATE DATABASE \"{name}\""))
        .with_context(|| format!("creating database {name}"))?;
    let (base, _) = pg
        .url
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("unexpected cluster URL {}", pg.url))?;
    Ok(format!("{base}/{name}"))
}

/// A valid, unique database name (at most 63 bytes, PostgreSQL's limit) from a free-form prefix.
fn database_name(prefix: &str) -> String {
    let mut clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if !clean.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        clean.insert_str(0, "db_");
    }
    format!("{clean}_{}", unique_suffix())
}

/// The broker every test of this binary shares, started on first use.
///
/// # Panics
///
/// If the broker cannot be started (RabbitMQ not installed, boot failure): every test that asks
/// for it fails with the same message, and the start is not retried.
///
/// Never dropped (it is a `static`): its watchdog stops it and removes its folder within a few
/// seconds of the test process's exit (see the crate docs).
pub fn shared_broker() -> &'static Broker {
    static SHARED: OnceLock<Result<Broker, String>> = OnceLock::new();
    match SHARED.get_or_init(|| Broker::start().map_err(|e| format!("{e:#}"))) {
        Ok(broker) => broker,
        Err(e) => panic!("could not start the shared RabbitMQ broker: {e}"),
    }
}

/// The PostgreSQL cluster every test of this binary shares; as [`shared_broker`].
///
/// # Panics
///
/// If the cluster cannot be started.
pub fn shared_postgres() -> &'static Postgres {
    static SHARED: OnceLock<Result<Postgres, String>> = OnceLock::new();
    match SHARED.get_or_init(|| Postgres::start().map_err(|e| format!("{e:#}"))) {
        Ok(pg) => pg,
        Err(e) => panic!("could not start the shared PostgreSQL cluster: {e}"),
    }
}

/// What differs between the two kinds of server.
struct Kind {
    /// Under `deploy/scripts/`.
    script: &'static str,
    /// For messages.
    name: &'static str,
    /// Prefix of the folder under `e2e-tmp/`.
    dir_prefix: &'static str,
    /// The file in the folder holding the URL once started.
    url_file: &'static str,
}

const RABBITMQ: Kind = Kind {
    script: "rabbitmq.sh",
    name: "RabbitMQ",
    dir_prefix: "rabbitmq-",
    url_file: "amqp_url",
};

const POSTGRES: Kind = Kind {
    script: "postgres.sh",
    name: "PostgreSQL",
    dir_prefix: "postgres-",
    url_file: "database_url",
};

/// The scripts' exit code for "the server package is not installed".
const NOT_INSTALLED: i32 = 3;

/// The watchdog's program: wait for the test process ($1) to go, then stop the server with the
/// script ($2) and remove its folder ($3).
const WATCHDOG: &str =
    r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done; bash "$2" stop "$3"; rm -rf "$3""#;

/// One running server: its folder, its watchdog, and how to address it through its script.
struct Server {
    kind: &'static Kind,
    script: PathBuf,
    /// All the server's state; `None` only while dropping. Removed (by `TempDir`) after the stop.
    dir: Option<TempDir>,
    /// Stops the server if this process dies without dropping us; ended once we have stopped it.
    watchdog: Option<Child>,
    running: bool,
}

impl Server {
    /// `prepare` writes what the server needs into its folder before it starts.
    fn start(
        kind: &'static Kind,
        prepare: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<(Server, String)> {
        let script = repo_root().join("deploy").join("scripts").join(kind.script);
        if !script.is_file() {
            bail!("{} is missing", script.display());
        }
        let dir = tempfile::Builder::new()
            .prefix(kind.dir_prefix)
            .tempdir_in(e2e_tmp_dir()?)
            .context("creating the server folder")?;
        // The watchdog first: if this process dies while the server boots, it still gets stopped.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("nianbao-e2e-watchdog")
            .arg(std::process::id().to_string())
            .arg(&script)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("spawning the clean-up watchdog")?;
        // From here on, dropping `server` (on any error below) stops whatever was started.
        let server = Server {
            kind,
            script,
            dir: Some(dir),
            watchdog: Some(watchdog),
            running: true,
        };

        prepare(server.dir())?;
        let started = Instant::now();
        let output = server.script_command("start", &[]).output();
        let output = output.with_context(|| format!("running {} start", kind.script))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.code() == Some(NOT_INSTALLED) {
                bail!(
                    "{name} is not installed on this machine: run `deploy/scripts/{script} install` \
                     as root (CI's .ci/run does)",
                    name = kind.name,
                    script = kind.script,
                );
            }
            bail!(
                "`deploy/scripts/{} start` failed ({}):\n{stderr}",
                kind.script,
                output.status
            );
        }
        let url_path = server.dir().join(kind.url_file);
        let url = std::fs::read_to_string(&url_path)
            .with_context(|| format!("reading {}", url_path.display()))?
            .trim()
            .to_owned();
        tracing::info!(
            server = kind.name,
            %url,
            dir = %server.dir().display(),
            secs = started.elapsed().as_secs_f64(),
            "started"
        );
        Ok((server, url))
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), TempDir::path)
    }

    /// `bash <script> <command> <dir> <args>`: through bash, so the scripts need no exec bit.
    fn script_command(&self, command: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(&self.script)
            .arg(command)
            .arg(self.dir())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a script sub-command that addresses the running server; returns its standard output.
    fn run(&self, command: &str, args: &[&str]) -> Result<String> {
        if !self.running {
            bail!("the {} server was stopped", self.kind.name);
        }
        let output = self
            .script_command(command, args)
            .output()
            .with_context(|| format!("running {} {command}", self.kind.script))?;
        check(&output, || {
            format!("{} {command} {}", self.kind.script, args.join(" "))
        })?;
        String::from_utf8(output.stdout).context("output is not UTF-8")
    }

    /// Starts a server this handle stopped, again in its folder.
    fn start_again(&mut self) -> Result<()> {
        if self.running {
            return Ok(());
        }
        let output = self
            .script_command("start", &[])
            .output()
            .with_context(|| format!("running {} start", self.kind.script))?;
        check(&output, || format!("{} start (again)", self.kind.script))?;
        self.running = true;
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        let started = Instant::now();
        let output = self
            .script_command("stop", &[])
            .output()
            .with_context(|| format!("running {} stop", self.kind.script))?;
        check(&output, || format!("{} stop", self.kind.script))?;
        self.running = false;
        tracing::info!(
            server = self.kind.name,
            secs = started.elapsed().as_secs_f64(),
            "stopped"
        );
        // Stopped cleanly: the watchdog has nothing left to do. (After a failed stop it stays, to
        // try again when the process exits.)
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        Ok(())
    }

    fn stop_or_report(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!(
                "nianbao-e2e: could not stop the {} server in {}: {e:#} (its watchdog will retry when this process exits)",
                self.kind.name,
                self.dir().display()
            );
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_or_report();
        // A server that would not stop keeps its folder: the watchdog stops it and removes it.
        if self.running
            && let Some(dir) = self.dir.take()
        {
            let _ = dir.keep();
        }
    }
}

/// An error with the command's stderr (and stdout, where scripts also print) when it failed.
fn check(output: &Output, what: impl FnOnce() -> String) -> Result<()> {
    if output.status.success() {
        return Ok(());
    }
    Err(anyhow!(
        "`{}` failed ({}):\n{}{}",
        what(),
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_valid_and_unique() {
        let a = database_name("Harness-Test ü");
        let b = database_name("Harness-Test ü");
        assert_ne!(a, b);
        assert!(a.starts_with("harness_test___"), "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{a}"
        );
        assert!(database_name("1st").starts_with("db_1st_"));
        assert!(database_name(&"x".repeat(200)).len() <= 63);
    }

    #[test]
    fn temporary_folders_stay_inside_the_target_folder() {
        let dir = e2e_tmp_dir().unwrap();
        assert!(dir.starts_with(target_dir()), "{}", dir.display());
        assert!(repo_root().join("deploy/scripts/rabbitmq.sh").is_file());
    }
}
