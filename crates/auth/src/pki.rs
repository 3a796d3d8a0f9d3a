//! A local certificate authority: what `nianbao certs init` writes for a developer's machine and
//! a pilot, and what the tests use to run real TLS. A province uses its own PKI instead; the
//! services only read PEM files (see `deploy/README.md`).

use crate::AuthError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

fn pki(e: rcgen::Error) -> AuthError {
    AuthError::Pki(e.to_string())
}

const CA_NAME: &str = "nianbao local CA";

/// The CA's parameters: the same every time, so that a CA key read back from its file signs
/// certificates that chain to the CA certificate written with it.
fn ca_params() -> Result<CertificateParams, AuthError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// A certificate and its key, as PEM.
#[derive(Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pem").finish_non_exhaustive()
    }
}

/// A CA able to sign server and client certificates.
pub struct Authority {
    key: KeyPair,
    pub cert_pem: String,
}

impl Authority {
    /// A new CA.
    pub fn generate() -> Result<Authority, AuthError> {
        let key = KeyPair::generate().map_err(pki)?;
        let cert = ca_params()?.self_signed(&key).map_err(pki)?;
        Ok(Authority {
            key,
            cert_pem: cert.pem(),
        })
    }

    /// The CA written by [`write_local`] in `dir`.
    pub fn load(dir: &Path) -> Result<Authority, AuthError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| AuthError::Read { path, source })
        };
        let key = KeyPair::from_pem(&read("ca-key.pem")?).map_err(pki)?;
        Ok(Authority {
            key,
            cert_pem: read("ca.pem")?,
        })
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    fn leaf(
        &self,
        common_name: &str,
        sans: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<Pem, AuthError> {
        let mut p = CertificateParams::new(sans).map_err(pki)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        p.distinguished_name = dn;
        p.extended_key_usages = vec![usage];
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate().map_err(pki)?;
        let ca = ca_params()?;
        let issuer = Issuer::from_params(&ca, &self.key);
        let cert = p.signed_by(&key, &issuer).map_err(pki)?;
        Ok(Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }

    /// A server certificate for `hosts` (DNS names or IP addresses).
    pub fn server(&self, hosts: &[String]) -> Result<Pem, AuthError> {
        let cn = hosts.first().map_or("nianbao", String::as_str);
        self.leaf(cn, hosts.to_vec(), ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate (mTLS) named `name`.
    pub fn client(&self, name: &str) -> Result<Pem, AuthError> {
        self.leaf(name, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// What [`write_local`] wrote.
#[derive(Debug, Clone)]
pub struct LocalFiles {
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

fn write_file(path: &Path, text: &str, private: bool) -> Result<(), AuthError> {
    let err = |source| AuthError::Write {
        path: path.into(),
        source,
    };
    std::fs::write(path, text).map_err(err)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// Writes a new CA (`ca.pem`, `ca-key.pem`) and a server certificate for `hosts` (`server.pem`,
/// `server-key.pem`) into `dir`; keys are readable by their owner only.
pub fn write_local(dir: &Path, hosts: &[String]) -> Result<LocalFiles, AuthError> {
    std::fs::create_dir_all(dir).map_err(|source| AuthError::Write {
        path: dir.into(),
        source,
    })?;
    let ca = Authority::generate()?;
    let server = ca.server(hosts)?;
    let files = LocalFiles {
        ca: dir.join("ca.pem"),
        ca_key: dir.join("ca-key.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
    };
    write_file(&files.ca, &ca.cert_pem, false)?;
    write_file(&files.ca_key, &ca.key_pem(), true)?;
    write_file(&files.server_cert, &server.cert, false)?;
    write_file(&files.server_key, &server.key, true)?;
    Ok(files)
}

/// Writes a client certificate signed by the CA in `dir` as `<name>.pem` / `<name>-key.pem`.
pub fn write_client(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), AuthError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AuthError::Invalid(format!(
            "client certificate name {name:?}: letters, digits, - and _ only"
        )));
    }
    let ca = Authority::load(dir)?;
    let pem = ca.client(name)?;
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    write_file(&cert, &pem.cert, false)?;
    write_file(&key, &pem.key, true)?;
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reloaded_ca_signs_client_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_local(dir.path(), &["127.0.0.1".into(), "localhost".into()]).unwrap();
        assert!(
            std::fs::read_to_string(&files.server_cert)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        let (cert, _key) = write_client(dir.path(), "extraction-1").unwrap();
        assert!(cert.exists());
        assert!(write_client(dir.path(), "../x").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.ca_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
    }
}
