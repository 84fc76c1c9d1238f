//! Delivery of a published press kit to real servers the tests start on loopback ports: Debian's
//! OpenSSH server (SFTP, key authentication, a pinned host key), Python's aiosmtpd (SMTP with
//! STARTTLS on a certificate made here) and a webhook receiver that checks the signature; the
//! retries and the log when the SFTP server is gone; a host key other than the pinned one refused;
//! a kit delivered once not sent twice; the API's job and log; a bad destination refused by name.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::deliver::{assert_kit_arrived, sha256_of, signature, walk, Receiver, SmtpSink, Sshd};
use common::serve::{fixture, http, start_server};
use common::{read_json, stderr, Aula};

/// A copy of the published fixture session with `destinations` as its `aula.toml`.
fn configured(destinations: &str) -> (Aula, String) {
    let f = fixture();
    let aula = f.aula.copy();
    std::fs::write(aula.path().join("data").join("aula.toml"), destinations).unwrap();
    (aula, f.id.clone())
}

fn packages(aula: &Aula, id: &str) -> PathBuf {
    aula.path()
        .join("data")
        .join("sessions")
        .join(id)
        .join("packages")
}

/// The delivery log of `id`, read from the catalogue.
fn log(aula: &Aula, id: &str) -> Vec<aula::catalogue::Attempt> {
    let home = aula.path().join("data");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let config = aula::config::Config::resolve(Some(home), None).unwrap();
        let catalogue = aula::catalogue::Catalogue::open(&config.database_url)
            .await
            .unwrap();
        catalogue.deliveries(id).await.unwrap()
    })
}

#[test]
fn sftp_delivery_uploads_the_zip_and_the_package_with_matching_sha256() {
    let sshd = Sshd::start();
    let (aula, id) = configured(&sshd.destination("agenzia", "both", 200));
    let out = aula.run(&["deliver", &id, "--json"]);
    assert!(
        out.status.success(),
        "{}\nsshd: {}",
        stderr(&out),
        std::fs::read_to_string(sshd.dir.path().join("sshd.log")).unwrap()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["destinations"][0]["status"], "delivered", "{report}");
    assert_eq!(report["destinations"][0]["attempts"], 1);

    assert_kit_arrived(&sshd.inbox(), &packages(&aula, &id), &id);
}

#[test]
fn an_sftp_server_with_another_host_key_is_refused_and_gets_nothing() {
    let sshd = Sshd::start();
    sshd.pin_another_key();
    let (aula, id) = configured(&sshd.destination("agenzia", "zip", 200));
    let out = aula.run(&["deliver", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("host key: the key of 127.0.0.1:"), "{err}");
    assert!(err.contains("differs from the one in"), "{err}");
    assert!(walk(&sshd.inbox()).is_empty());
}

#[test]
fn a_stopped_sftp_server_is_retried_then_reported_with_its_answer() {
    let mut sshd = Sshd::start();
    let (aula, id) = configured(&sshd.destination("agenzia", "zip", 200));
    aula.ok(&["deliver", &id]);
    sshd.stop();

    let started = Instant::now();
    let out = aula.run(&["deliver", &id, "--again"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("delivery failed to agenzia"), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    assert!(err.contains("attempt 3 of 3"), "{err}");
    // Backoff of 200 ms, then 400 ms.
    assert!(took >= Duration::from_millis(600), "{took:?}");

    let attempts = log(&aula, &id);
    let outcomes: Vec<(u32, &str)> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, "delivered"),
            (1, "failed"),
            (2, "failed"),
            (3, "failed")
        ]
    );
    for failed in &attempts[1..] {
        assert_eq!(failed.destination, "agenzia");
        assert!(
            failed.answer.contains("Connection refused"),
            "{}",
            failed.answer
        );
    }
}

#[test]
fn smtp_delivery_over_starttls_mails_the_links_and_the_excerpts() {
    let sink = SmtpSink::start();
    let (aula, id) = configured(&format!(
        "public_url = \"https://aula.example.org\"\n\n{}",
        sink.destination(
            "lista-stampa",
            &["redazione@example.org", "agenzia@example.org"]
        )
    ));
    let out = aula.run(&["deliver", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("lista-stampa (smtp): delivered"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    assert_eq!(sink.mails(), 1);
    let mail = sink.mail(1);
    assert_eq!(mail["tls"], true, "{mail}");
    assert_eq!(mail["mail_from"], "stampa@example.org");
    assert_eq!(
        mail["rcpt_tos"],
        serde_json::json!(["redazione@example.org", "agenzia@example.org"])
    );
    let text = mail["text"].as_str().unwrap();
    let base = format!("https://aula.example.org/files/{id}/packages");
    assert!(text.contains(&format!("{base}/{id}-press.zip")), "{text}");
    assert!(text.contains(&format!("{base}/press/index.html")), "{text}");
    let metadata = read_json(packages(&aula, &id).join("press").join("metadata.json"));
    let session_title = metadata["session"]["title"].as_str().unwrap();
    assert!(mail["subject"].as_str().unwrap().contains(session_title));
    for clip in metadata["clips"].as_array().unwrap() {
        let link = format!("{base}/press/{}", clip["media"].as_str().unwrap());
        assert!(text.contains(&link), "{link} not in {text}");
        assert!(text.contains(clip["title"].as_str().unwrap()), "{text}");
        let excerpt = clip["excerpt"].as_str().unwrap();
        let start: String = excerpt.chars().take(30).collect();
        assert!(text.contains(&start), "{start:?} not in {text}");
    }
}

const SECRET: &str = "s3cret-of-the-city-web-team";

#[test]
fn webhook_delivery_is_signed_with_the_secret_and_lists_the_files() {
    let receiver = Receiver::start(200, "ok");
    let (aula, id) = configured(&receiver.destination("sito", SECRET));
    aula.ok(&["deliver", &id, "--to", "sito"]);

    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    let expected = signature(SECRET, &request.body);
    assert_eq!(request.header("X-Aula-Signature"), Some(expected.as_str()));
    let sent_at: i64 = request.header("X-Aula-Timestamp").unwrap().parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 120);
    // A body signed with another secret does not verify.
    assert_ne!(
        request.header("X-Aula-Signature"),
        Some(signature("another secret", &request.body).as_str())
    );

    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["session"]["id"], id.as_str());
    let local = packages(&aula, &id);
    let zip = format!("{id}-press.zip");
    assert_eq!(body["zip"]["sha256"], sha256_of(&local.join(&zip)));
    assert_eq!(
        body["zip"]["url"],
        format!("http://localhost:8080/files/{id}/packages/{zip}")
    );
    let files = body["files"].as_array().unwrap();
    assert!(files.len() > 5, "{body}");
    for f in files {
        let path = f["path"].as_str().unwrap();
        assert_eq!(
            f["sha256"],
            sha256_of(&local.join("press").join(path)),
            "{path}"
        );
    }
}

#[test]
fn a_webhook_answering_an_error_fails_with_its_status_and_answer() {
    let receiver = Receiver::start(503, "maintenance until noon");
    let (aula, id) = configured(&receiver.destination("sito", SECRET));
    let out = aula.run(&["deliver", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTTP 503: maintenance until noon"),
        "{}",
        stderr(&out)
    );
    assert_eq!(receiver.received().len(), 2, "two attempts");
    let attempts = log(&aula, &id);
    assert_eq!(attempts.len(), 2);
    assert!(attempts
        .iter()
        .all(|a| a.answer.contains("HTTP 503: maintenance until noon")));
}

#[test]
fn a_kit_delivered_once_is_not_sent_again_unless_asked() {
    let receiver = Receiver::start(200, "ok");
    let (aula, id) = configured(&receiver.destination("sito", SECRET));
    aula.ok(&["deliver", &id]);
    let again = aula.ok(&["deliver", &id]);
    assert!(
        again.contains("sito (webhook): has this kit already"),
        "{again}"
    );
    assert!(again.contains("nothing sent"), "{again}");
    assert_eq!(receiver.received().len(), 1, "nothing sent the second time");
    aula.ok(&["deliver", &id, "--again"]);
    assert_eq!(receiver.received().len(), 2, "--again sends it");
}

#[test]
fn the_api_queues_a_deliver_job_and_shows_the_log() {
    let receiver = Receiver::start(200, "ok");
    let (aula, id) = configured(&receiver.destination("sito", SECRET));
    let press = fixture().press.clone();
    let server = start_server(&aula.path().join("data"), None);
    let path = format!("/api/v1/sessions/{id}/deliver");
    let (status, body) = http(server.port, "POST", &path, None, "{}");
    assert_eq!(status, 401, "{body}");
    let (status, body) = http(
        server.port,
        "POST",
        &path,
        Some(&press),
        r#"{"to": ["nope"]}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no destination \\\"nope\\\""), "{body}");
    let (status, body) = http(
        server.port,
        "POST",
        &path,
        Some(&press),
        r#"{"to": ["sito"]}"#,
    );
    assert_eq!(status, 202, "{body}");
    let job: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(job["kind"], "deliver");
    let job_id = job["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(60);
    let state = loop {
        let (_, body) = http(
            server.port,
            "GET",
            &format!("/api/v1/jobs/{job_id}"),
            Some(&press),
            "",
        );
        let job: serde_json::Value = serde_json::from_str(&body).unwrap();
        if !matches!(job["state"].as_str(), Some("queued" | "running")) {
            break job;
        }
        assert!(Instant::now() < deadline, "{job}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(receiver.received().len(), 1);

    let (status, body) = http(
        server.port,
        "GET",
        &format!("/api/v1/sessions/{id}/deliveries"),
        Some(&press),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let log: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log[0]["destination"], "sito");
    assert_eq!(log[0]["outcome"], "delivered");
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["job_id"], job_id.as_str());
    assert!(log[0]["answer"].as_str().unwrap().starts_with("HTTP 200"));
}

#[test]
fn a_bad_destination_is_refused_by_name_and_field_before_anything_is_sent() {
    let (aula, id) = configured(
        "[[delivery]]\nname = \"lista-stampa\"\nkind = \"smtp\"\nhost = \"smtp.example.org\"\n\
         tls = \"none\"\nfrom = \"stampa@example.org\"\nto = [\"redazione@example.org\"]\n",
    );
    let out = aula.run(&["deliver", &id]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "delivery[0] (lista-stampa): tls: \"none\" for smtp.example.org (only a server on \
             the loopback interface may go without STARTTLS)"
        ),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(aula.path().join("data").join("aula.toml")).unwrap();
    assert!(log(&aula, &id).is_empty());
}
