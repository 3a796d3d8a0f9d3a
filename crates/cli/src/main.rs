//! `nianbao`: check annual reports offline, generate realistic samples.

mod report;

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

fn run(cli: Cli) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
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
        } => {
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
            let n = nianbao_synth::write_corpus(&opts, &dir)
                .with_context(|| format!("cannot write to {}", dir.display()))?;
            writeln!(out, "wrote {n} reports to {}", dir.display())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
