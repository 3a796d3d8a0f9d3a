//! `nianbao`: check annual reports offline, generate realistic samples.

mod admin;
mod alerts;
mod broker;
mod client;
mod directory;
mod report;
mod text;

/// The extractor allocates many small strings; mimalloc makes that markedly cheaper than glibc.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use nianbao_rules::{Checker, RuleConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nianbao",
    version,
    about = "政府信息公开工作年度报告检查工具 (annual report checker)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum CredentialsAction {
    /// Add a credential and print its token (shown once).
    Issue {
        /// The credentials file the services read ([auth] credentials).
        #[arg(long, env = "NIANBAO_CREDENTIALS")]
        file: PathBuf,
        /// An agency's credential: it submits and reads only its own reports.
        #[arg(long)]
        agency: Option<String>,
        /// An office user's credential (directory office id): its office and those below it.
        #[arg(long)]
        office: Option<String>,
        /// crawler | operator | extraction (agency and office follow from --agency / --office).
        #[arg(long, default_value = "")]
        role: String,
        /// Who holds it (a person or a system), shown as acknowledged_by and in audit records.
        #[arg(long)]
        name: Option<String>,
        /// A client certificate (PEM) that stands for the credential over mTLS, instead of a token.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// The directory the services read: --agency / --office must be in it, and an agency
        /// named by name is stored by its id (agencies sharing a name need their id).
        #[arg(long, env = "NIANBAO_DIRECTORY")]
        directory: Option<PathBuf>,
    },
    /// List the credentials (no secrets).
    List {
        #[arg(long, env = "NIANBAO_CREDENTIALS")]
        file: PathBuf,
    },
    /// Revoke a credential (the services notice within seconds).
    Revoke {
        id: String,
        #[arg(long, env = "NIANBAO_CREDENTIALS")]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum BrokerAction {
    /// Declare the exchanges and queues once, as the broker's administrator, so that the services
    /// can run as users that may not declare anything (bus.declare_topology = false).
    Setup {
        /// A service configuration file whose [bus] table (retry steps, delivery limit,
        /// exchange) the topology must match; default: the built-in defaults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The administrator's AMQP URL (default: the config file's, or $NIANBAO_BUS__URL).
        #[arg(long, env = "NIANBAO_BUS__URL")]
        url: Option<String>,
        /// CA of the broker's certificate, for amqps://.
        #[arg(long, env = "NIANBAO_BUS__CA_FILE")]
        ca_file: Option<String>,
    },
    /// Print (or write to --out) a RabbitMQ definitions document with one user per service,
    /// limited to that service's queues and events; load it with `rabbitmqctl import_definitions`.
    Definitions {
        #[arg(long, default_value = "/")]
        vhost: String,
        /// Folder with one password file per service (ingest, extraction, …); missing ones are
        /// created (random, mode 0600). The services' URLs carry these passwords.
        #[arg(long)]
        secrets: PathBuf,
        /// Only these services (default: all four).
        #[arg(long = "service")]
        services: Vec<String>,
        /// As for `setup`: the exchange name comes from its [bus] table.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CertsAction {
    /// Write a CA and a server certificate (ca.pem, ca-key.pem, server.pem, server-key.pem).
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// Host names or IP addresses of the server certificate (default 127.0.0.1, localhost, ::1).
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
    /// Write a client certificate signed by the CA in --dir (NAME.pem, NAME-key.pem).
    Client {
        #[arg(long)]
        dir: PathBuf,
        name: String,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Print the extracted structure of each file (JSON Lines with --json).
    Extract {
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Extract and validate offline; exit 1 if any file has an error-severity finding.
    Check {
        #[arg(long)]
        json: bool,
        /// Rule configuration (severity overrides, disabled rules), TOML.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Send reports to the ingest service; prints their ids.
    Submit {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        agency: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        source_url: Option<String>,
        /// Publication date, YYYY-MM-DD.
        #[arg(long)]
        published_on: Option<String>,
        /// An earlier year's report loaded for carry-over and 雷同 checks of later reports: checked
        /// and stored, but alerts nobody and is not an arrival (operators and crawlers only).
        #[arg(long)]
        backfill: bool,
        /// Ingest gRPC endpoint (default $NIANBAO_INGEST_URL or http://127.0.0.1:50051).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// State and findings of submitted reports.
    Status {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// List submitted reports.
    Reports {
        #[arg(long)]
        agency: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        year: Option<i32>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Wait until reports reach a status (received, extracted, validated, notified).
    Wait {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long, default_value = "notified")]
        until: String,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Alerts the offices received, by office, agency and year; an unknown office, status or kind
    /// is an error (exit 2).
    Alerts {
        #[arg(long)]
        office: Option<String>,
        /// open | acknowledged | resolved
        #[arg(long)]
        status: Option<String>,
        /// findings | resolution | escalation | report-missing
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        json: bool,
        /// The directory file: --office is checked against it before asking the service (which
        /// checks it against its own directory in any case).
        #[arg(long, env = "NIANBAO_DIRECTORY")]
        directory: Option<PathBuf>,
        /// Notification gRPC endpoint (default $NIANBAO_NOTIFICATION_URL or http://127.0.0.1:50054).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Issue, list and revoke the credentials the services accept (an operator's command).
    Credentials {
        #[command(subcommand)]
        action: CredentialsAction,
    },
    /// Broker users per service and the topology they need (an operator's command, once per broker).
    Broker {
        #[command(subcommand)]
        action: BrokerAction,
    },
    /// The directory of offices and agencies: check a TOML file or CSV/XLSX rosters before use.
    Directory {
        #[command(subcommand)]
        action: directory::Action,
    },
    /// A local certificate authority for a developer's machine or a pilot (a province uses its own).
    Certs {
        #[command(subcommand)]
        action: CertsAction,
    },
    /// Acknowledge an alert (as the credential in NIANBAO_TOKEN; the service records who). Exit 1
    /// when it had been acknowledged before (the first acknowledgement stands; who and when is
    /// printed) or is already resolved.
    Ack {
        alert: String,
        /// A note kept in the acknowledgement's audit record.
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Export an office's open findings to CSV or XLSX (a 通报 draft to open in Excel).
    Export {
        #[arg(long)]
        office: String,
        /// The directory file: --office is checked against it (as for `alerts`).
        #[arg(long, env = "NIANBAO_DIRECTORY")]
        directory: Option<PathBuf>,
        /// Only this reporting year.
        #[arg(long)]
        year: Option<i32>,
        /// csv | xlsx (default: the output file's extension).
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Health of the delivery channels; exit 1 if one is failing.
    Channels {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Generate realistic reports with known defects and their expected results.
    Synth {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        /// Share of reports that get one or more injected defects (0–1).
        #[arg(long, default_value_t = 0.3)]
        defect_rate: f64,
        /// Comma-separated subset of tab,cells,markdown,web,prose.
        #[arg(long, value_delimiter = ',')]
        layouts: Vec<String>,
        /// File format: text (the layouts above), html, html-gbk (declared GBK) or docx. The
        /// content and the truth are the same in every format.
        #[arg(long, default_value = "text")]
        format: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nianbao: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The service commands need an async runtime; the offline ones do not.
fn block_on<F: std::future::Future<Output = Result<()>>>(f: F) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(f)?;
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Submit {
            files,
            agency,
            region,
            source_url,
            published_on,
            backfill,
            endpoint,
        } => block_on(async {
            let args = client::SubmitArgs {
                files,
                agency,
                region,
                source_url,
                published_on,
                backfill,
            };
            client::submit(&client::ingest_url(endpoint), args, &mut out).await?;
            Ok(())
        }),
        Command::Status {
            ids,
            json,
            endpoint,
        } => block_on(async {
            client::status(&client::ingest_url(endpoint), &ids, json, &mut out).await
        }),
        Command::Reports {
            agency,
            region,
            year,
            status,
            limit,
            json,
            endpoint,
        } => block_on(async {
            let args = client::ListArgs {
                agency,
                region,
                year,
                status,
                limit,
            };
            client::reports(&client::ingest_url(endpoint), args, json, &mut out).await
        }),
        Command::Wait {
            ids,
            until,
            timeout_secs,
            endpoint,
        } => block_on(async {
            let done = client::wait(
                &client::ingest_url(endpoint),
                &ids,
                &until,
                std::time::Duration::from_secs(timeout_secs),
            )
            .await?;
            writeln!(out, "{} reports reached {until}", done.len())?;
            Ok(())
        }),
        Command::Alerts {
            office,
            status,
            kind,
            json,
            directory,
            endpoint,
        } => block_on(async {
            let args = alerts::AlertsArgs {
                office,
                status,
                kind,
                json,
                directory,
            };
            alerts::alerts(&client::notification_url(endpoint), args, &mut out).await
        }),
        Command::Export {
            office,
            directory,
            year,
            format,
            out: file,
            endpoint,
        } => block_on(async {
            let args = alerts::ExportArgs {
                office,
                directory,
                year,
                out: file,
                format,
            };
            alerts::export(&client::notification_url(endpoint), args, &mut out).await
        }),
        Command::Channels { json, endpoint } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let failing = rt.block_on(alerts::channels(
                &client::notification_url(endpoint),
                json,
                &mut out,
            ))?;
            Ok(if failing {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Credentials { action } => {
            match action {
                CredentialsAction::Issue {
                    file,
                    agency,
                    office,
                    role,
                    name,
                    cert,
                    directory,
                } => admin::issue(
                    &file,
                    admin::IssueArgs {
                        role: &role,
                        agency,
                        office,
                        name,
                        cert: cert.as_deref(),
                        directory: directory.as_deref(),
                    },
                    &mut out,
                )?,
                CredentialsAction::List { file } => admin::list(&file, &mut out)?,
                CredentialsAction::Revoke { id, file } => admin::revoke(&file, &id, &mut out)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Broker { action } => {
            match action {
                BrokerAction::Setup {
                    config,
                    url,
                    ca_file,
                } => {
                    let cfg = broker::bus_config(config.as_deref(), url, ca_file)?;
                    block_on(broker::setup(&cfg, &mut out))?;
                }
                BrokerAction::Definitions {
                    vhost,
                    secrets,
                    services,
                    config,
                    out: file,
                } => {
                    let cfg = broker::bus_config(config.as_deref(), None, None)?;
                    broker::write_definitions(
                        &cfg,
                        &vhost,
                        &secrets,
                        &services,
                        file.as_deref(),
                        &mut out,
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Directory { action } => directory::run(action, &mut out),
        Command::Certs { action } => {
            match action {
                CertsAction::Init { dir, hosts } => admin::certs_init(&dir, &hosts, &mut out)?,
                CertsAction::Client { dir, name } => admin::certs_client(&dir, &name, &mut out)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ack {
            alert,
            note,
            endpoint,
        } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let acked = rt.block_on(alerts::ack(
                &client::notification_url(endpoint),
                &alert,
                &note,
                &mut out,
            ))?;
            Ok(match acked {
                alerts::Acked::Now => ExitCode::SUCCESS,
                alerts::Acked::Before | alerts::Acked::Resolved => ExitCode::from(1),
            })
        }
        Command::Extract { json, files } => {
            for path in &files {
                let x = nianbao_extract::extract_bytes(&read(path)?);
                let name = path.display().to_string();
                if json {
                    writeln!(out, "{}", nianbao_model::json::extract_record(&name, &x))?;
                } else {
                    writeln!(out, "{}", report::extraction(&name, &x))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            json,
            config,
            files,
        } => {
            let config = match config {
                Some(p) => {
                    let text = std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read {}", p.display()))?;
                    RuleConfig::from_toml(&text)
                        .with_context(|| format!("invalid rule configuration {}", p.display()))?
                }
                None => RuleConfig::default(),
            };
            let checker = Checker::new(config);
            let mut any_error = false;
            for path in &files {
                let x = nianbao_extract::extract_bytes(&read(path)?);
                let findings = checker.check(&x);
                any_error |= findings
                    .iter()
                    .any(|f| f.severity == nianbao_model::Severity::Error);
                let name = path.display().to_string();
                if json {
                    writeln!(
                        out,
                        "{}",
                        nianbao_model::json::check_record(&name, &x, &findings)
                    )?;
                } else {
                    writeln!(out, "{}", report::findings(&name, &x, &findings))?;
                }
            }
            Ok(if any_error {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Synth {
            count,
            seed,
            out: dir,
            defect_rate,
            layouts,
            format,
        } => {
            let format: nianbao_synth::OutputFormat =
                format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let layouts = layouts
                .iter()
                .map(|l| {
                    l.parse::<nianbao_synth::Layout>()
                        .map_err(|e| anyhow::anyhow!("{e}"))
                })
                .collect::<Result<Vec<_>>>()?;
            let mut opts = nianbao_synth::SynthOptions {
                count,
                seed,
                defect_rate,
                ..Default::default()
            };
            if !layouts.is_empty() {
                opts.layouts = layouts;
            }
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let n = nianbao_synth::write_corpus_as(&opts, &dir, format)
                .with_context(|| format!("cannot write to {}", dir.display()))?;
            writeln!(out, "wrote {n} reports to {}", dir.display())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
