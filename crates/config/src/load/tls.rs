//! supervisor-rs's `tls_*` keys: `[inet_http_server]` `tls_cert`, `tls_key`,
//! `tls_client_ca`, `tls_client_cn_user`, and `[supervisorctl]` `tls_ca`, `tls_cert`,
//! `tls_key`. Only the values are read here (paths made absolute, pairs checked); the
//! files themselves are opened and checked by the programs that use them, whose errors
//! name the key and where it was written ([`TlsFile::origin`]). The reference ignores
//! these keys.

use super::*;

/// `[section] key (file: 'F', line N)` of a value.
fn origin(section: &str, v: &Val) -> String {
    match &v.entry {
        Some((file, line)) => format!(
            "[{section}] {} (file: {}, line {line})",
            v.key,
            py_repr(file)
        ),
        None => format!("[{section}] {}", v.key),
    }
}

/// One path-valued key: `None` when absent; an empty value is an error naming the key.
fn path_key(ld: &Loader<'_>, section: &str, key: &str) -> SectionResult<Option<TlsFile>> {
    let mut here = Expansions::new();
    here.set_str("here", ld.here.clone());
    let Some(v) = ld.get(section, key, None, &here)? else {
        return Ok(None);
    };
    let raw = py_strip(&v.value);
    if raw.is_empty() {
        return Err(Fail::at(
            format!("{key} is empty in section [{section}]: give the path of a PEM file"),
            &v,
        ));
    }
    Ok(Some(TlsFile {
        key: key.to_string(),
        path: PathBuf::from(dt::normalize_path(raw, &ld.ctx.cwd, ld.home())),
        origin: origin(section, &v),
    }))
}

/// The error for a key given without the key it needs.
fn needs(section: &str, given: &TlsFile, missing: &str, why: &str) -> Fail {
    Fail {
        message: format!(
            "{} is set in section [{section}] but {missing} is not: {why}",
            given.key
        ),
        key: Some(missing.to_string()),
        at: None,
    }
}

/// The TLS settings of one `[inet_http_server]` section (`None`: plain HTTP).
pub(super) fn read_inet_tls(
    ld: &Loader<'_>,
    section: &str,
) -> SectionResult<Option<InetTlsConfig>> {
    let cert = path_key(ld, section, "tls_cert")?;
    let key = path_key(ld, section, "tls_key")?;
    let client_ca = path_key(ld, section, "tls_client_ca")?;
    let empty = Expansions::new();
    let cn_user = match ld.get(section, "tls_client_cn_user", None, &empty)? {
        Some(v) => Some((conv(&v, dt::parse_bool)?, v)),
        None => None,
    };
    let pair = "TLS needs both the certificate (tls_cert) and its private key (tls_key)";
    let (cert, key) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        (Some(c), None) => return Err(needs(section, &c, "tls_key", pair)),
        (None, Some(k)) => return Err(needs(section, &k, "tls_cert", pair)),
        (None, None) => {
            if let Some(ca) = client_ca {
                return Err(needs(
                    section,
                    &ca,
                    "tls_cert",
                    "client certificates are only asked for on a TLS server (set tls_cert and tls_key)",
                ));
            }
            if let Some((_, v)) = cn_user {
                return Err(Fail::at(
                    format!(
                        "tls_client_cn_user is set in section [{section}] but tls_cert is not: \
                         it needs a TLS server with tls_client_ca"
                    ),
                    &v,
                ));
            }
            return Ok(None);
        }
    };
    let client_cn_user = match cn_user {
        Some((true, v)) if client_ca.is_none() => {
            return Err(Fail::at(
                format!(
                    "tls_client_cn_user is true in section [{section}] but tls_client_ca is not \
                     set: only verified client certificates can name a user"
                ),
                &v,
            ))
        }
        Some((b, _)) => b,
        None => false,
    };
    Ok(Some(InetTlsConfig {
        cert,
        key,
        client_ca,
        client_cn_user,
    }))
}

/// `[supervisorctl]` `tls_ca`, `tls_cert`, `tls_key` (as absolute paths).
pub(super) type CtlTls = (Option<PathBuf>, Option<PathBuf>, Option<PathBuf>);

/// Reads the TLS keys of `[supervisorctl]`; `tls_cert` and `tls_key` go together.
pub(super) fn read_ctl_tls(ld: &Loader<'_>, section: &str) -> SectionResult<CtlTls> {
    let ca = path_key(ld, section, "tls_ca")?;
    let cert = path_key(ld, section, "tls_cert")?;
    let key = path_key(ld, section, "tls_key")?;
    let why = "a client certificate needs both tls_cert and tls_key";
    match (&cert, &key) {
        (Some(c), None) => return Err(needs(section, c, "tls_key", why)),
        (None, Some(k)) => return Err(needs(section, k, "tls_cert", why)),
        _ => {}
    }
    Ok((
        ca.map(|f| f.path),
        cert.map(|f| f.path),
        key.map(|f| f.path),
    ))
}

#[cfg(test)]
mod tests {
    use crate::load::LoadContext;

    fn ctx(dir: &std::path::Path) -> LoadContext {
        let mut c = LoadContext::from_process();
        c.cwd = dir.to_path_buf();
        c
    }

    fn load(body: &str) -> Result<crate::Config, crate::ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, format!("[supervisord]\n{body}")).unwrap();
        crate::load::load_with_context(&path, &ctx(dir.path()))
    }

    #[test]
    fn absent_keys_mean_plain_http() {
        let c = load("[inet_http_server]\nport=127.0.0.1:9001\n").unwrap();
        assert_eq!(c.inet_http_servers[0].tls, None);
    }

    #[test]
    fn paths_are_absolute_and_located() {
        let c = load(
            "[inet_http_server]\nport=127.0.0.1:9001\ntls_cert=%(here)s/c.pem\ntls_key=k.pem\n\
             tls_client_ca=/etc/ca.pem\ntls_client_cn_user=true\n",
        )
        .unwrap();
        let t = c.inet_http_servers[0].tls.clone().unwrap();
        assert!(t.cert.path.is_absolute() && t.cert.path.ends_with("c.pem"));
        assert!(t.key.path.is_absolute() && t.key.path.ends_with("k.pem"));
        assert_eq!(
            t.client_ca.as_ref().unwrap().path,
            std::path::PathBuf::from("/etc/ca.pem")
        );
        assert!(t.client_cn_user);
        assert!(t
            .cert
            .origin
            .starts_with("[inet_http_server] tls_cert (file: '"));
        assert!(t.cert.origin.ends_with("line 4)"), "{}", t.cert.origin);
    }

    #[test]
    fn pairs_and_dependencies_are_checked() {
        let e = load("[inet_http_server]\nport=127.0.0.1:9001\ntls_cert=/c.pem\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tls_key"));
        assert!(e.message.contains("tls_cert is set"), "{e}");
        let e = load("[inet_http_server]\nport=127.0.0.1:9001\ntls_key=/k.pem\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tls_cert"));
        let e =
            load("[inet_http_server]\nport=127.0.0.1:9001\ntls_client_ca=/ca.pem\n").unwrap_err();
        assert!(e.message.contains("tls_client_ca is set"), "{e}");
        let e = load(
            "[inet_http_server]\nport=127.0.0.1:9001\ntls_cert=/c\ntls_key=/k\ntls_client_cn_user=yes\n",
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tls_client_cn_user"));
        assert!(e.message.contains("tls_client_ca is not"), "{e}");
        let e = load(
            "[inet_http_server]\nport=127.0.0.1:9001\ntls_cert=/c\ntls_key=/k\ntls_client_ca=/a\n\
             tls_client_cn_user=maybe\n",
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tls_client_cn_user"));
        let e =
            load("[inet_http_server]\nport=127.0.0.1:9001\ntls_cert=\ntls_key=/k\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tls_cert"));
        assert!(e.message.contains("tls_cert is empty"), "{e}");
    }

    #[test]
    fn ctl_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        std::fs::write(
            &path,
            "[supervisorctl]\nserverurl=https://localhost:9001\ntls_ca=%(here)s/ca.pem\n\
             tls_cert=c.pem\ntls_key=k.pem\n",
        )
        .unwrap();
        let c = crate::load::load_ctl_with_context(&path, &ctx(dir.path())).unwrap();
        assert_eq!(c.tls_ca, Some(dir.path().join("ca.pem")));
        assert_eq!(c.tls_cert, Some(dir.path().join("c.pem")));
        assert_eq!(c.tls_key, Some(dir.path().join("k.pem")));
        std::fs::write(&path, "[supervisorctl]\ntls_cert=c.pem\n").unwrap();
        let e = crate::load::load_ctl_with_context(&path, &ctx(dir.path())).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tls_key"));
    }
}
