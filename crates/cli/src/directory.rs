//! `nianbao directory check FILE...`: what the services would load from a directory, before they
//! are pointed at it.
//!
//! An office edits its roster in Excel; the services refuse to start with a broken directory (better
//! than routing alerts to the wrong office). This command is the step between: it reads the files
//! as the services would (a TOML file and the rosters it names, or rosters on their own), prints what
//! would be loaded — counts per office and per kind — and every bad row with the row number Excel
//! shows, in Chinese with the English phrase beside, and exits 0 if the directory loads, 2 if not.

use anyhow::Result;
use clap::Subcommand;
use nianbao_directory::{AgencyKind, Roster};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Action {
    /// Read a directory (one TOML file and/or CSV and XLSX rosters, as one directory) and print
    /// what it would load and every bad row; exit 0 if it loads, 2 if not.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(action: Action, out: &mut impl Write) -> Result<ExitCode> {
    match action {
        Action::Check { files } => check(&files, out),
    }
}

fn kind_name(k: AgencyKind) -> &'static str {
    match k {
        AgencyKind::Government => "government",
        AgencyKind::Department => "department",
        AgencyKind::Township => "township",
        AgencyKind::Street => "street",
    }
}

fn check(files: &[PathBuf], out: &mut impl Write) -> Result<ExitCode> {
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let roster = match Roster::read(&paths) {
        Ok(r) => r,
        Err(e) => {
            writeln!(out, "无法读取名录（cannot read the directory）：{e}")?;
            writeln!(out, "结果：无法加载（does not load）")?;
            return Ok(ExitCode::from(2));
        }
    };
    writeln!(out, "名录文件（files）：{}", roster.files().join("，"))?;
    writeln!(
        out,
        "办公室 {} 个，机关 {} 个（{} offices, {} agencies）",
        roster.offices().len(),
        roster.agencies().len(),
        roster.offices().len(),
        roster.agencies().len()
    )?;

    let mut per_office: HashMap<&str, usize> = HashMap::new();
    for a in roster.agencies() {
        *per_office.entry(a.office.as_str()).or_default() += 1;
    }
    writeln!(out, "按办公室（per office）：")?;
    for o in roster.offices() {
        let n = per_office.get(o.id.as_str()).copied().unwrap_or(0);
        writeln!(out, "  {:<14} {}  {n}", o.id, o.name)?;
    }

    writeln!(out, "按类型（per kind）：")?;
    for k in [
        AgencyKind::Government,
        AgencyKind::Department,
        AgencyKind::Township,
        AgencyKind::Street,
    ] {
        let n = roster.agencies().iter().filter(|a| a.kind() == k).count();
        writeln!(out, "  {}（{}）  {n}", k.chinese(), kind_name(k))?;
    }

    if !roster.notes().is_empty() {
        writeln!(out, "说明（notes）：")?;
        for n in roster.notes() {
            writeln!(out, "  {n}")?;
        }
    }

    let rows = roster.errors().to_vec();
    match roster.into_directory() {
        Ok(_) => {
            writeln!(out, "结果：可以加载（loads）")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if rows.is_empty() {
                writeln!(out, "错误（error）：{e}")?;
            } else {
                writeln!(out, "错误 {} 处（{} errors）：", rows.len(), rows.len())?;
                for r in &rows {
                    writeln!(out, "  {r}")?;
                }
            }
            writeln!(out, "结果：无法加载（does not load）")?;
            Ok(ExitCode::from(2))
        }
    }
}
