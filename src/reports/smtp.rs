//! Sending one message through the configured SMTP relay with lettre:
//! STARTTLS, implicit TLS, or plain (loopback relays and tests), with a login
//! read from `email.password_file` when `email.username` is set.

use std::time::Duration;

use anyhow::Context as _;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::email::{EmailConfig, Security};

/// Reads a secret from a file (trailing newline trimmed).
pub fn read_secret(path: &str) -> anyhow::Result<secrecy::SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the SMTP password file {path}"))?;
    Ok(secrecy::SecretString::from(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

fn transport(cfg: &EmailConfig) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    anyhow::ensure!(
        cfg.enabled(),
        "email is not configured (email.host is empty)"
    );
    let host = cfg.host.trim();
    let builder = if cfg.tls_ca_file.is_empty() || cfg.security == Security::None {
        standard(cfg, host)?
    } else {
        // The system's roots plus the configured ones.
        let pem = std::fs::read(&cfg.tls_ca_file)
            .with_context(|| format!("cannot read email.tls_ca_file {}", cfg.tls_ca_file))?;
        let ca = Certificate::from_pem(&pem)
            .with_context(|| format!("{} is not a PEM certificate", cfg.tls_ca_file))?;
        let params = TlsParameters::builder(host.to_owned())
            .add_root_certificate(ca)
            .build_rustls()
            .with_context(|| format!("cannot set up TLS to {host}"))?;
        let tls = if cfg.security == Security::Tls {
            Tls::Wrapper(params)
        } else {
            Tls::Required(params)
        };
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).tls(tls)
    };
    let mut builder = builder
        .port(cfg.port)
        .timeout(Some(Duration::from_secs(cfg.timeout_secs.max(1))));
    if !cfg.username.is_empty() {
        use secrecy::ExposeSecret as _;
        let password = read_secret(&cfg.password_file)?;
        builder = builder.credentials(Credentials::new(
            cfg.username.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// The transport builder for the system's trust roots.
fn standard(
    cfg: &EmailConfig,
    host: &str,
) -> anyhow::Result<lettre::transport::smtp::AsyncSmtpTransportBuilder> {
    Ok(match cfg.security {
        Security::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .with_context(|| format!("cannot set up STARTTLS to {host}"))?,
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .with_context(|| format!("cannot set up TLS to {host}"))?,
        Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
    })
}

/// Sends raw MIME bytes to `to`; returns the server's answer.
pub async fn send(
    cfg: &EmailConfig,
    from: &str,
    to: &[String],
    bytes: &[u8],
) -> anyhow::Result<String> {
    let from: Address = from
        .parse()
        .with_context(|| format!("{from:?} is not an address"))?;
    let to: Vec<Address> = to
        .iter()
        .map(|a| {
            a.parse()
                .with_context(|| format!("{a:?} is not an address"))
        })
        .collect::<anyhow::Result<_>>()?;
    let envelope = Envelope::new(Some(from), to).context("cannot build the envelope")?;
    let t = transport(cfg)?;
    let answer = t
        .send_raw(&envelope, bytes)
        .await
        .with_context(|| format!("SMTP {}:{} refused or failed", cfg.host.trim(), cfg.port))?;
    Ok(format!(
        "{} {}",
        answer.code(),
        answer.message().collect::<Vec<_>>().join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn the_login_comes_from_a_file_and_a_missing_file_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("smtp_password");
        std::fs::write(&p, "s3cret with spaces\n").unwrap();
        assert_eq!(
            read_secret(p.to_str().unwrap()).unwrap().expose_secret(),
            "s3cret with spaces"
        );
        let cfg = EmailConfig {
            host: "127.0.0.1".into(),
            security: Security::None,
            username: "s321d".into(),
            password_file: d.path().join("missing").display().to_string(),
            ..EmailConfig::default()
        };
        let err = format!("{:#}", transport(&cfg).expect_err("no password file"));
        assert!(
            err.contains("cannot read the SMTP password file") && err.contains("missing"),
            "{err}"
        );
        assert!(transport(&EmailConfig::default()).is_err(), "email off");
    }
}
