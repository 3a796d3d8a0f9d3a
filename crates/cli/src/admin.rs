//! The operator's commands: credentials (`nianbao credentials issue|revoke|list`) and a local
//! certificate authority (`nianbao certs init|client`).

use anyhow::{Context, Result, bail};
use nianbao_auth::credentials::{self, Role};
use std::io::Write;
use std::path::Path;

/// `nianbao credentials issue`: adds a credential and prints its token once (or, for a client
/// certificate, its fingerprint).
/// What `nianbao credentials issue` was asked for.
pub struct IssueArgs<'a> {
    pub role: &'a str,
    pub agency: Option<String>,
    pub office: Option<String>,
    pub name: Option<String>,
    pub cert: Option<&'a Path>,
    /// When given, the agency or office must be in it (an agency is stored by its id).
    pub directory: Option<&'a Path>,
}

pub fn issue(file: &Path, args: IssueArgs<'_>, out: &mut impl Write) -> Result<()> {
    let IssueArgs {
        role,
        agency,
        office,
        name,
        cert,
        directory,
    } = args;
    let role: Role = match (role, &agency, &office) {
        ("", Some(_), None) => Role::Agency,
        ("", None, Some(_)) => Role::Office,
        ("", None, None) => {
            bail!("name the credential's agency (--agency), office (--office) or --role")
        }
        ("", Some(_), Some(_)) => bail!("--agency and --office exclude each other"),
        (r, _, _) => r.parse()?,
    };
    let subject = match role {
        Role::Agency => agency.unwrap_or_default(),
        Role::Office => office.unwrap_or_default(),
        _ if agency.is_some() || office.is_some() => {
            bail!("a {role} credential names no agency or office")
        }
        _ => String::new(),
    };
    let subject = match directory {
        Some(path) => {
            let d = nianbao_directory::Directory::load(path)
                .with_context(|| format!("directory {}", path.display()))?;
            known_subject(&d, role, &subject)?
        }
        None => subject,
    };
    let cert_pem = match cert {
        Some(p) => Some(
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        None => None,
    };
    let issued = credentials::issue(
        file,
        &credentials::Request {
            role,
            subject,
            name: name.unwrap_or_default(),
            cert_pem,
        },
    )?;
    let r = &issued.record;
    writeln!(
        out,
        "已签发凭据 {}：{}（{}）{} 持有人：{}",
        r.id,
        r.role.chinese(),
        r.role,
        if r.subject.is_empty() {
            String::new()
        } else {
            format!(" {}", r.subject)
        },
        r.name
    )?;
    match &issued.token {
        Some(token) => {
            writeln!(
                out,
                "令牌（只显示这一次，请安全保存）/ token, shown once:\n{token}"
            )?;
        }
        None => writeln!(out, "客户端证书 SHA-256：{}", r.cert_sha256)?,
    }
    Ok(())
}

/// `nianbao credentials list`: every credential, without secrets.
pub fn list(file: &Path, out: &mut impl Write) -> Result<()> {
    let records = credentials::read_records(file)?;
    for r in &records {
        writeln!(
            out,
            "{}  {:<10} {:<24} {}  {}{}",
            r.id,
            r.role.as_str(),
            r.subject,
            r.name,
            if r.token_sha256.is_empty() {
                "certificate"
            } else {
                "token"
            },
            if r.revoked_at_ms > 0 {
                "  已吊销 revoked"
            } else {
                ""
            }
        )?;
    }
    writeln!(out, "共 {} 个凭据", records.len())?;
    Ok(())
}

/// `nianbao credentials revoke ID`.
pub fn revoke(file: &Path, id: &str, out: &mut impl Write) -> Result<()> {
    let r = credentials::revoke(file, id)?;
    writeln!(out, "已吊销凭据 {}（{} {}）", r.id, r.role, r.subject)?;
    Ok(())
}

/// `nianbao certs init`: a local CA and a server certificate for `hosts`.
pub fn certs_init(dir: &Path, hosts: &[String], out: &mut impl Write) -> Result<()> {
    let hosts: Vec<String> = if hosts.is_empty() {
        vec!["127.0.0.1".into(), "localhost".into(), "::1".into()]
    } else {
        hosts.to_vec()
    };
    let files = nianbao_auth::pki::write_local(dir, &hosts)?;
    writeln!(
        out,
        "CA: {}\nserver certificate ({}): {}\nserver key: {}",
        files.ca.display(),
        hosts.join(", "),
        files.server_cert.display(),
        files.server_key.display()
    )?;
    Ok(())
}

/// `nianbao certs client`: a client certificate signed by the local CA in `dir`.
pub fn certs_client(dir: &Path, name: &str, out: &mut impl Write) -> Result<()> {
    let (cert, key) = nianbao_auth::pki::write_client(dir, name)?;
    writeln!(
        out,
        "client certificate: {}\nclient key: {}",
        cert.display(),
        key.display()
    )?;
    Ok(())
}

/// The subject as the services will know it, checked against the directory: an office id that
/// exists; an agency's id (an agency named by its unique name gets its id, so that a credential
/// for one of two 城关镇人民政府 cannot be issued by name alone).
fn known_subject(d: &nianbao_directory::Directory, role: Role, subject: &str) -> Result<String> {
    let subject = subject.trim();
    match role {
        Role::Office if d.office(subject).is_none() => {
            bail!("办公室「{subject}」不在机关名录中 / office {subject:?} is not in the directory")
        }
        Role::Agency => {
            if let Some(a) = d.agency_by_id(subject).or_else(|| d.agency(subject)) {
                return Ok(a.id.clone());
            }
            let same: Vec<String> = d
                .agencies()
                .iter()
                .filter(|a| a.name == subject)
                .map(|a| format!("{}（{}）", a.id, a.region))
                .collect();
            if same.is_empty() {
                bail!(
                    "机关「{subject}」不在机关名录中 / agency {subject:?} is not in the directory"
                )
            }
            bail!(
                "名录中有多个「{subject}」，请用机关代码指定：{} / several agencies are named {subject:?}: give one of their ids",
                same.join("、")
            )
        }
        _ => Ok(subject.to_string()),
    }
}
