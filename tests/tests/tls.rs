//! `crm` over wss://, end to end: the real `crm-sync-server serve --tls-cert --tls-key` with a
//! server certificate signed by a private CA (rcgen), and real `crm` processes that trust that CA
//! with `--ca-cert` (or `CRM_CA_CERT`), or do not.

use crm_tests::{contact_names, expect_clean_failure, expect_ok, message, Crm, SyncServer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A private CA, a server certificate it signs, and another CA that signed nothing.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    other_ca: PathBuf,
}

impl Pki {
    /// Certificates for a server reachable as 127.0.0.1 and localhost.
    fn new() -> Pki {
        Self::for_names(&["127.0.0.1", "localhost"])
    }

    fn for_names(names: &[&str]) -> Pki {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let (ca, issuer) = new_ca("crm test CA");
        let (other_ca, _) = new_ca("another CA");
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("valid names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0]);
        params.use_authority_key_identifier_extension = true;
        params
            .key_usages
            .push(rcgen::KeyUsagePurpose::DigitalSignature);
        params
            .extended_key_usages
            .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, &issuer)
            .expect("a signed certificate");
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("a PEM file can be written");
            path
        };
        Pki {
            ca: write("ca.pem", ca.pem()),
            other_ca: write("other-ca.pem", other_ca.pem()),
            cert: write("server.pem", cert.pem()),
            key: write("server.key", key.serialize_pem()),
            dir,
        }
    }

    /// A file in the PKI's folder holding `contents`.
    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("a file can be written");
        path
    }
}

fn new_ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("no names");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = params.self_signed(&key).expect("a self-signed CA");
    (cert, rcgen::Issuer::new(params, key))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Runs `crm --data-dir DIR ARGS...` with extra environment variables.
fn run_with_env(crm: &Crm, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = crm.command();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("crm can be started")
}

#[test]
fn a_private_ca_secures_sync_and_a_second_device_restores_over_wss() {
    let pki = Pki::new();
    let server = SyncServer::start_tls(&pki.cert, &pki.key);
    let url = server.url();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");

    let ana = Crm::new();
    let init = ana.json(&[
        "init",
        "--user",
        "ana",
        "--server",
        &url,
        "--ca-cert",
        path(&pki.ca),
    ]);
    assert!(!init["restored"].is_null(), "init synced over wss: {init}");
    ana.add(&[
        "contact",
        "add",
        "--name",
        "Ines Duarte",
        "--email",
        "ines@acme.pt",
    ]);
    // The CA certificate is remembered: no flag needed any more.
    let report = ana.json(&["sync"]);
    assert!(report["bytes_sent"].as_u64() > Some(0), "{report}");

    // A second device trusts the CA through CRM_CA_CERT and restores everything over wss.
    let bruno = Crm::new();
    let out = run_with_env(
        &bruno,
        &[("CRM_CA_CERT", path(&pki.ca))],
        &["--json", "init", "--user", "bruno", "--server", &url],
    );
    let init: Value = serde_json::from_str(&expect_ok(&["init"], out)).expect("JSON");
    assert!(init["restored"]["created"].as_u64() >= Some(1), "{init}");
    assert_eq!(contact_names(&bruno), ["Ines Duarte"]);

    // Both directions, remembered on both devices.
    bruno.add(&["contact", "add", "--name", "Rui Costa"]);
    bruno.ok(&["sync"]);
    ana.ok(&["sync"]);
    assert_eq!(contact_names(&ana), ["Ines Duarte", "Rui Costa"]);
}

#[test]
fn an_untrusted_certificate_is_refused_and_local_data_is_untouched() {
    let pki = Pki::new();
    let server = SyncServer::start_tls(&pki.cert, &pki.key);
    let url = server.url();

    // `init` says why it cannot trust the server, and keeps nothing.
    let carla = Crm::new();
    let err = carla.fail(&["init", "--user", "carla", "--server", &url]);
    assert!(
        message(&err).contains("certificate is not trusted") && message(&err).contains("--ca-cert"),
        "{err}"
    );
    assert!(
        !carla.dir().exists(),
        "a refused init left {:?}",
        carla.dir()
    );
    // A data dir that trusted the server's CA and lost it (copied without its CA file).
    carla.ok(&[
        "init",
        "--user",
        "carla",
        "--server",
        &url,
        "--ca-cert",
        path(&pki.ca),
    ]);
    std::fs::remove_file(carla.dir().join("ca-cert.pem")).expect("the kept CA is removed");

    carla.add(&["contact", "add", "--name", "Carla Dias"]);
    let before = carla.snapshot();
    let err = carla.fail(&["sync"]);
    let msg = message(&err);
    assert!(
        msg.starts_with("the sync server's certificate is not trusted")
            && msg.contains("--ca-cert"),
        "{msg}"
    );
    assert_eq!(carla.snapshot(), before, "a refused sync changes nothing");

    // `--watch` stops at once instead of retrying a certificate that will not change.
    let mut watch = carla
        .command()
        .args(["sync", "--watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crm can be started");
    let deadline = Instant::now() + Duration::from_secs(30);
    while watch.try_wait().expect("crm can be waited on").is_none() {
        if Instant::now() > deadline {
            let _ = watch.kill();
            panic!("`crm sync --watch` kept retrying an untrusted certificate");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = watch.wait_with_output().expect("crm's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("certificate is not trusted"), "{stderr}");
    assert!(!stderr.contains("reconnecting"), "{stderr}");

    // A CA that did not sign the server's certificate does not help.
    let err = carla.fail(&["sync", "--ca-cert", path(&pki.other_ca)]);
    assert!(
        message(&err).contains("certificate is not trusted"),
        "{err}"
    );
    assert_eq!(carla.snapshot(), before);

    // The right one does; what was kept locally goes up.
    carla.ok(&["sync", "--ca-cert", path(&pki.ca)]);
    let dan = Crm::new();
    dan.ok(&[
        "init",
        "--user",
        "dan",
        "--server",
        &url,
        "--ca-cert",
        path(&pki.ca),
    ]);
    assert_eq!(contact_names(&dan), ["Carla Dias"]);
}

#[test]
fn bad_ca_cert_files_are_refused_with_one_line_and_nothing_is_saved() {
    let pki = Pki::new();
    let server = SyncServer::start_tls(&pki.cert, &pki.key);
    let url = server.url();
    let key_only = std::fs::read_to_string(&pki.key).expect("the key file");
    let bad = [
        pki.dir.path().join("missing.pem"),
        pki.file("empty.pem", ""),
        pki.file("garbage.pem", "this is not a certificate\n"),
        pki.file("key-only.pem", &key_only),
        pki.file(
            "bad-base64.pem",
            "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
        ),
        pki.file(
            "not-x509.pem",
            "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        ),
    ];

    for file in &bad {
        let fresh = Crm::new();
        let args = [
            "init",
            "--user",
            "eva",
            "--server",
            &url,
            "--ca-cert",
            path(file),
        ];
        let err = expect_clean_failure(&args, fresh.run(&args));
        assert!(message(&err).contains(path(file)), "names the file: {err}");
        assert!(!fresh.dir().exists(), "nothing created for {file:?}");
    }

    // A data dir that syncs: a bad file changes none of what it remembers.
    let eva = Crm::new();
    eva.ok(&[
        "init",
        "--user",
        "eva",
        "--server",
        &url,
        "--ca-cert",
        path(&pki.ca),
    ]);
    let kept = eva.dir().join("ca-cert.pem");
    let kept_bytes = std::fs::read(&kept).expect("the CA certificate is kept in the data dir");
    for file in &bad {
        let err = eva.fail(&[
            "sync",
            "--server",
            "wss://127.0.0.1:9",
            "--token",
            "crm_wrong",
            "--ca-cert",
            path(file),
        ]);
        assert!(message(&err).contains(path(file)), "names the file: {err}");
    }
    assert_eq!(std::fs::read(&kept).expect("kept"), kept_bytes);
    assert!(!eva.dir().join("token").exists(), "no token saved");
    eva.ok(&["sync"]);

    // A damaged kept copy says what to do.
    std::fs::write(&kept, "damaged").expect("write");
    let err = eva.fail(&["sync"]);
    assert!(message(&err).contains("--ca-cert FILE again"), "{err}");
    eva.ok(&["sync", "--ca-cert", path(&pki.ca)]);
}

#[test]
fn without_readable_system_roots_the_ca_cert_alone_is_trusted() {
    let pki = Pki::new();
    let server = SyncServer::start_tls(&pki.cert, &pki.key);
    let url = server.url();
    // Where rustls-native-certs looks first: a missing bundle and an empty folder.
    let missing = pki.dir.path().join("no-such-bundle.pem");
    let empty = pki.dir.path().join("no-certs");
    std::fs::create_dir(&empty).expect("an empty folder");
    let no_roots = [
        ("SSL_CERT_FILE", path(&missing)),
        ("SSL_CERT_DIR", path(&empty)),
    ];

    let fay = Crm::init("fay");
    let out = run_with_env(
        &fay,
        &no_roots,
        &["sync", "--server", &url, "--ca-cert", path(&pki.ca)],
    );
    expect_ok(&["sync"], out);

    let gil = Crm::init("gil");
    let args = ["sync", "--server", &url];
    let err = expect_clean_failure(&args, run_with_env(&gil, &no_roots, &args));
    assert!(
        message(&err).contains("certificate is not trusted")
            && message(&err).contains("cannot be read")
            && message(&err).contains("--ca-cert"),
        "{err}"
    );
}

#[test]
fn a_certificate_for_another_name_is_refused_with_what_to_check() {
    let pki = Pki::for_names(&["sync.example.com"]);
    let server = SyncServer::start_tls(&pki.cert, &pki.key);
    let hal = Crm::init("hal");
    let err = hal.fail(&[
        "sync",
        "--server",
        &server.url(),
        "--ca-cert",
        path(&pki.ca),
    ]);
    let msg = message(&err);
    assert!(
        msg.contains("certificate is not trusted") && msg.contains("sync.example.com"),
        "{msg}"
    );
}

#[test]
fn ws_and_wss_mixed_up_say_so_and_a_ca_cert_on_ws_is_kept_for_later() {
    let pki = Pki::new();
    let tls = SyncServer::start_tls(&pki.cert, &pki.key);
    let plain = SyncServer::start();

    // Plain ws:// to the TLS port.
    let ivo = Crm::init("ivo");
    let ws_url = format!("ws://{}", tls.addr());
    let err = ivo.fail(&["sync", "--server", &ws_url]);
    assert!(message(&err).contains("wss://"), "{err}");
    // wss:// to a plain server.
    let wss_url = format!("wss://{}", plain.addr());
    let err = ivo.fail(&["sync", "--server", &wss_url, "--ca-cert", path(&pki.ca)]);
    assert!(message(&err).contains("TLS handshake failed"), "{err}");

    // A CA certificate with a ws:// server: syncs, notes that ws:// is not encrypted.
    let out = ivo.run(&["sync", "--server", &plain.url(), "--ca-cert", path(&pki.ca)]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    expect_ok(&["sync"], out);
    assert!(stderr.contains("not encrypted"), "{stderr}");
    // Kept: the same data dir moves to the TLS server without the flag.
    ivo.ok(&["sync", "--server", &tls.url()]);
}
