//! The SMTP side of scheduled reports: the password kept like the token and used to log in, STARTTLS and TLS to a trusted server.

use super::*;

#[test]
fn the_smtp_password_is_kept_like_the_token_and_used_to_log_in() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    let port = sink.port().to_string();
    let args = [
        "config",
        "smtp",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--tls",
        "none",
        "--from",
        "reports@example.com",
        "--user",
        "reports",
        "--password-stdin",
    ];
    let out = crm_tests::run_with_stdin(cmd(&crm, "2026-12-04T10:00", &args), "s3cret pass\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = crm.dir().join("smtp-password");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "s3cret pass");
    let shown = ok(&crm, "2026-12-04T10:00", &["config", "smtp"]);
    assert!(
        shown.contains("reports") && !shown.contains("s3cret"),
        "{shown}"
    );
    schedule_monday(&crm, "2026-12-04T10:00");
    ok(&crm, "2026-12-04T10:01", &["schedule", "run", "monday"]);
    assert_eq!(sink.logins(), vec!["reports"]);
    assert_eq!(sink.messages().len(), 1);

    // No encryption towards another host is allowed, with a warning; a user without a password
    // is refused and nothing is saved.
    let out = run(
        &crm,
        "2026-12-04T10:02",
        &[
            "config",
            "smtp",
            "--host",
            "mail.example.com",
            "--tls",
            "none",
            "--from",
            "r@example.com",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: --tls none"));
    let args = [
        "config",
        "smtp",
        "--host",
        "mail.example.com",
        "--user",
        "x",
    ];
    let e = expect_clean_failure(&args, run(&crm, "2026-12-04T10:03", &args));
    assert!(e.contains("password"), "{e}");
}

/// A private CA (its PEM file in `dir`) and a certificate it signed for 127.0.0.1: (CA file,
/// certificate DER, PKCS#8 key DER).
fn pki(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>, Vec<u8>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mail test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.use_authority_key_identifier_extension = true;
    params
        .extended_key_usages
        .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let ca_file = dir.join("mail-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    (ca_file, cert.der().to_vec(), key.serialize_der())
}

#[test]
fn reports_go_over_starttls_and_tls_to_a_server_whose_certificate_is_trusted() {
    use crm_tests::smtp::Secure;
    let probe = Crm::new();
    let (ca, cert, key) = pki(probe.scratch());
    let config = Secure::config(cert, key);
    for (secure, mode) in [
        (Secure::Starttls(config.clone()), "starttls"),
        (Secure::Tls(config.clone()), "tls"),
    ] {
        let sink = SmtpSink::start_with(secure);
        let crm = manager_with_pipeline(&sink);
        let port = sink.port().to_string();
        ok(
            &crm,
            "2026-12-04T10:00",
            &[
                "config",
                "smtp",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--tls",
                mode,
                "--from",
                "reports@example.com",
            ],
        );
        schedule_monday(&crm, "2026-12-04T10:00");
        // Not trusted: refused, and said so.
        let args = ["schedule", "run", "monday"];
        let out = cmd(&crm, "2026-12-04T10:01", &args)
            .env("SSL_CERT_FILE", crm.scratch().join("none.pem"))
            .output()
            .unwrap();
        let e = expect_clean_failure(&args, out);
        assert!(
            e.contains("failed after 1 attempt: ") && e.contains("certificate"),
            "{mode}: {e}"
        );
        assert!(sink.messages().is_empty());
        // Trusted through SSL_CERT_FILE, as the system's roots are.
        let out = cmd(&crm, "2026-12-04T10:02", &args)
            .env("SSL_CERT_FILE", &ca)
            .output()
            .unwrap();
        expect_ok(&args, out);
        let messages = sink.messages();
        assert_eq!(messages.len(), 1, "{mode}");
        assert!(messages[0].tls, "{mode}: the message came over TLS");
    }
}

#[test]
fn a_private_ca_given_with_config_smtp_is_trusted_for_starttls_and_tls_without_ssl_cert_file() {
    use crm_tests::smtp::Secure;
    let probe = Crm::new();
    let (ca, cert, key) = pki(probe.scratch());
    let config = Secure::config(cert, key);
    for (secure, mode) in [
        (Secure::Starttls(config.clone()), "starttls"),
        (Secure::Tls(config.clone()), "tls"),
    ] {
        let sink = SmtpSink::start_with(secure);
        let crm = manager_with_pipeline(&sink);
        let port = sink.port().to_string();
        let smtp = |extra: &[&str]| {
            let mut args = vec![
                "config",
                "smtp",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--tls",
                mode,
                "--from",
                "reports@example.com",
            ];
            args.extend_from_slice(extra);
            args.iter().map(|s| s.to_string()).collect::<Vec<String>>()
        };
        // A file that is not PEM certificates is refused in one line, and nothing is saved.
        let junk = crm.scratch().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let args = smtp(&["--ca", junk.to_str().unwrap()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let e = expect_clean_failure(&args, run(&crm, "2026-12-04T10:00", &args));
        assert!(e.contains("junk.pem") && e.contains("PEM"), "{e}");
        assert!(!crm.dir().join("smtp-ca.pem").exists());
        let shown = json(&crm, "2026-12-04T10:00", &["config", "smtp"]);
        assert_eq!(shown["tls"], "none", "the earlier server is kept: {shown}");

        let args = smtp(&["--ca", ca.to_str().unwrap()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&crm, "2026-12-04T10:00", &args);
        let shown = ok(&crm, "2026-12-04T10:00", &["config", "smtp"]);
        assert!(shown.contains("smtp-ca.pem"), "{shown}");
        schedule_monday(&crm, "2026-12-04T10:00");
        let args = ["schedule", "run", "monday"];
        let out = cmd(&crm, "2026-12-04T10:01", &args)
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap();
        expect_ok(&args, out);
        let messages = sink.messages();
        assert_eq!(messages.len(), 1, "{mode}");
        assert!(messages[0].tls, "{mode}: the message came over TLS");
        assert!(parse(&messages[0])
            .subject()
            .unwrap()
            .starts_with("monday:"));
    }
}
