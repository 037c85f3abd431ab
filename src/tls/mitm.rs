//! `wscope proxy --mitm DIR`: a CA of the user's own, kept in DIR and made
//! on first use (ca.pem to trust; ca.key, mode 0600, never printed), and a
//! leaf certificate per server name, made when a client first asks for it
//! and then reused. wscope never installs the CA anywhere: the user trusts
//! it where they choose.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::error::{fail, Failure, Stage};

pub struct Mitm {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    /// One key for every leaf of this run: making a key is the slow part.
    leaf_key: KeyPair,
    leaves: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    pub ca_path: PathBuf,
    /// SHA-256 of the CA certificate, colon-separated hex.
    pub fingerprint: String,
    /// Base64 SHA-256 of the CA's public key, for Chromium's
    /// --ignore-certificate-errors-spki-list.
    pub spki_sha256: String,
    /// The CA was made by this run (not found in DIR).
    pub made: bool,
}

impl std::fmt::Debug for Mitm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        write!(f, "Mitm({})", self.ca_path.display())
    }
}

fn cannot(what: &str, e: impl std::fmt::Display) -> Failure {
    fail(Stage::Usage, format!("--mitm: {what}: {e}"))
}

impl Mitm {
    /// Loads the CA from `dir`, or makes it there when `dir` has none.
    pub fn open(dir: &Path) -> Result<Mitm, Failure> {
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca.key");
        let made = !cert_path.exists() && !key_path.exists();
        if made {
            make_ca(dir, &cert_path, &key_path)?;
        }
        let key_pem = fs::read_to_string(&key_path)
            .map_err(|e| cannot(&format!("cannot read {}", key_path.display()), e))?;
        let mode = fs::metadata(&key_path).map(|m| m.permissions().mode() & 0o077);
        if mode.is_ok_and(|m| m != 0) {
            return Err(cannot(
                &format!("{} can be read by others", key_path.display()),
                "make it mode 0600 (chmod 600)",
            ));
        }
        let cert_pem = fs::read_to_string(&cert_path)
            .map_err(|e| cannot(&format!("cannot read {}", cert_path.display()), e))?;
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| cannot(&format!("{} is not a private key", key_path.display()), e))?;
        let ca_der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| {
            cannot(
                &format!("{} holds no certificate", cert_path.display()),
                format!("{e:?}"),
            )
        })?;
        let issuer = Issuer::from_ca_cert_der(&ca_der, key).map_err(|e| {
            cannot(
                &format!("{} is not a CA certificate", cert_path.display()),
                e,
            )
        })?;
        let (fingerprint, spki_sha256) = super::serve::fingerprints(&ca_der)
            .map_err(|e| cannot("the CA certificate is unreadable", e))?;
        let leaf_key = KeyPair::generate().map_err(|e| cannot("cannot make a key", e))?;
        Ok(Mitm {
            issuer,
            ca_der,
            leaf_key,
            leaves: Mutex::new(HashMap::new()),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            ca_path: cert_path,
            fingerprint,
            spki_sha256,
            made,
        })
    }

    /// A leaf for `name`, made once per run.
    fn leaf(&self, name: &str) -> Result<Arc<CertifiedKey>, String> {
        let mut leaves = self.leaves.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(leaf) = leaves.get(name) {
            return Ok(Arc::clone(leaf));
        }
        let mut params =
            CertificateParams::new(vec![name.to_string()]).map_err(|e| e.to_string())?;
        params.distinguished_name.push(DnType::CommonName, name);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(397);
        let cert = params
            .signed_by(&self.leaf_key, &self.issuer)
            .map_err(|e| e.to_string())?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let signer = self
            .provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| e.to_string())?;
        let certified = Arc::new(CertifiedKey::new(
            vec![cert.der().clone(), self.ca_der.clone()],
            signer,
        ));
        leaves.insert(name.to_string(), Arc::clone(&certified));
        Ok(certified)
    }

    /// A TLS server configuration for one tunnel: the client's SNI names
    /// the certificate, or `fallback` (the CONNECT host) when it sends none.
    pub fn server_config(self: &Arc<Self>, fallback: &str) -> Result<Arc<ServerConfig>, Failure> {
        let config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(Stage::Tls, format!("TLS setup failed: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver {
                mitm: Arc::clone(self),
                fallback: fallback.to_string(),
            }));
        Ok(Arc::new(config))
    }

    /// What to tell the user at start: where the CA is and how to trust it.
    pub fn trust_notice(&self) -> String {
        let what = if self.made { "made" } else { "using" };
        format!(
            "TLS interception: {what} the CA {ca} (SHA-256 {fp})\n\
             trust it: wscope --ca {ca} · NODE_EXTRA_CA_CERTS={ca} · \
             chromium --ignore-certificate-errors-spki-list={spki}\n\
             wscope installs it nowhere; its key stays in ca.key beside it",
            ca = self.ca_path.display(),
            fp = self.fingerprint,
            spki = self.spki_sha256
        )
    }
}

struct Resolver {
    mitm: Arc<Mitm>,
    fallback: String,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resolver({})", self.fallback)
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello
            .server_name()
            .unwrap_or(&self.fallback)
            .to_ascii_lowercase();
        self.mitm.leaf(&name).ok()
    }
}

fn make_ca(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(), Failure> {
    fs::create_dir_all(dir).map_err(|e| cannot(&format!("cannot make {}", dir.display()), e))?;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| cannot("CA", e))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    params.distinguished_name.push(
        DnType::CommonName,
        format!("wscope proxy CA {:x}", nanos & 0xFFFF_FFFF),
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "wscope");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let key = KeyPair::generate().map_err(|e| cannot("cannot make a key", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| cannot("cannot make the CA", e))?;
    // The key first, created 0600 from the start: it is never readable by
    // others, not even for a moment.
    write_new(key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert_path, cert.pem().as_bytes(), 0o644)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Failure> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| cannot(&format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_with_a_private_key_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("wscope-mitm-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let first = Mitm::open(&dir).unwrap();
        assert!(first.made);
        let mode = fs::metadata(dir.join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Mitm::open(&dir).unwrap();
        assert!(!again.made);
        assert_eq!(first.fingerprint, again.fingerprint);
        assert!(!format!("{again:?}").contains("PRIVATE"));
        let leaf = again.leaf("example.test").unwrap();
        assert_eq!(leaf.cert.len(), 2, "leaf then CA");
        assert!(Arc::ptr_eq(&leaf, &again.leaf("example.test").unwrap()));
        // A key others can read is refused.
        fs::set_permissions(dir.join("ca.key"), fs::Permissions::from_mode(0o644)).unwrap();
        let err = Mitm::open(&dir).unwrap_err();
        assert!(
            err.message.contains("can be read by others"),
            "{}",
            err.message
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
