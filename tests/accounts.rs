//! Accounts and sign-in: users made with the real binary, the sign-in form, the session cookie,
//! CSRF on every state-changing request the cookie authenticates, the roles' routes, sign-out and
//! disabled users; and the form in Chromium.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::browser::{chromium, start_driver};
use common::serve::start_server;
use common::Aula;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const PASSWORD: &str = "una password lunga";

/// Runs `aula user ARGS` with `stdin` as its standard input (not a terminal).
fn user_cmd(aula: &Aula, args: &[&str], stdin: &str) -> std::process::Output {
    let mut args_all = vec!["user"];
    args_all.extend_from_slice(args);
    common::output_with_input(&mut aula.command(&args_all), stdin)
}

fn create_user(aula: &Aula, name: &str, role: &str) {
    aula.create_user(name, role, PASSWORD);
}

/// One answer: status, `Set-Cookie` values, `Location`, body text.
struct Answer {
    status: StatusCode,
    cookies: Vec<String>,
    location: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The value the answer sets for cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }
}

/// A data directory with users of each role, an imported session and an admin token, served
/// in-process.
struct Site {
    aula: Aula,
    app: axum::Router,
    admin_token: String,
    id: &'static str,
}

impl Site {
    async fn new() -> Site {
        let aula = Aula::new();
        for (name, role) in [("chiara", "clerk"), ("paolo", "press"), ("anna", "admin")] {
            create_user(&aula, name, role);
        }
        let admin_token = aula
            .ok(&["token", "create", "--role", "admin"])
            .trim()
            .to_owned();
        let config = aula::config::Config::resolve(Some(aula.path().join("data")), None).unwrap();
        let app = aula::serve::app(aula::serve::prepare(&config, 5).await.unwrap());
        let site = Site {
            aula,
            app,
            admin_token,
            id: "cc-2024-03-15",
        };
        let doc = json!({
            "id": site.id, "body": "Consiglio comunale", "title": "Seduta",
            "start": "2024-03-15T17:00:00Z", "mode": "hybrid",
            "roster": [{"id": "rossi", "name": "Mario Rossi", "role": "councillor", "seat": 1}],
            "agenda": [{"number": 1, "title": "Bilancio", "kind": "resolution"},
                       {"number": 2, "title": "Mozione", "kind": "motion"}]
        });
        let token = format!("Bearer {}", site.admin_token);
        let a = site
            .send(
                "POST",
                "/api/v1/sessions",
                &[("authorization", &token)],
                &doc.to_string(),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        site
    }

    async fn send(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        let mut typed = false;
        for (k, v) in headers {
            typed |= k.eq_ignore_ascii_case("content-type");
            request = request.header(*k, *v);
        }
        if !typed {
            request = request.header("content-type", "application/json");
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            cookies,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Fills and sends the sign-in form as a browser would (its token cookie included).
    async fn sign_in(&self, name: &str, password: &str, next: &str) -> Answer {
        let form = self.send("GET", "/signin", &[], "").await;
        assert_eq!(form.status, StatusCode::OK);
        let token = form.cookie("aula_signin").expect("the form's token cookie");
        assert!(form
            .body
            .contains(&format!("name=\"csrf\" value=\"{token}\"")));
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &token)
            .append_pair("name", name)
            .append_pair("password", password)
            .append_pair("next", next)
            .finish();
        let cookie = format!("aula_signin={token}");
        self.send(
            "POST",
            "/signin",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", &cookie),
            ],
            &body,
        )
        .await
    }

    /// Signs in and returns the `Cookie` header to send and the session's CSRF token (read from
    /// the page's `<meta name="csrf-token">`).
    async fn session(&self, name: &str) -> (String, String) {
        let answer = self.sign_in(name, PASSWORD, "").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let cookie = format!("aula_session={}", answer.cookie("aula_session").unwrap());
        let page = self.send("GET", "/", &[("cookie", &cookie)], "").await;
        let csrf = page
            .body
            .split("<meta name=\"csrf-token\" content=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page's csrf-token meta")
            .to_owned();
        (cookie, csrf)
    }

    fn markers_uri(&self) -> String {
        format!("/api/v1/sessions/{}/agenda-markers", self.id)
    }
}

const MARKER: &str = r#"[{"at": "2024-03-15T17:05:00Z", "item": 2}]"#;

#[test]
fn users_are_created_listed_disabled_and_their_passwords_changed_with_the_binary() {
    let aula = Aula::new();
    create_user(&aula, "m.rossi", "press");
    create_user(&aula, "anna", "admin");
    let list: Value = serde_json::from_str(&aula.ok(&["user", "list", "--json"])).unwrap();
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["name"].as_str().unwrap(), u["role"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("anna", "admin"), ("m.rossi", "press")]);
    assert!(!list.to_string().contains("argon2"), "{list}");

    let refused = |args: &[&str], stdin: &str, want: &str| {
        let out = user_cmd(&aula, args, stdin);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            common::stderr(&out)
        );
        let err = common::stderr(&out);
        assert!(err.contains(want), "{args:?}: {err}");
    };
    let long = format!("{PASSWORD}\n");
    refused(
        &["create", "anna", "--role", "clerk"],
        &long,
        "already a user \"anna\"",
    );
    refused(
        &["create", "../x", "--role", "clerk"],
        &long,
        "lowercase letters a-z, digits",
    );
    refused(
        &["create", "Mario Rossi", "--role", "clerk"],
        &long,
        "lowercase letters a-z",
    );
    refused(
        &["create", "chiara", "--role", "clerk"],
        "corta\n",
        "at least 10 needed",
    );
    refused(
        &["create", "chiara", "--role", "clerk"],
        "",
        "at least 10 needed",
    );
    refused(
        &["create", "chiara", "--role", "public"],
        &long,
        "not public",
    );
    refused(&["disable", "nessuno"], "", "no user \"nessuno\"");
    refused(&["passwd", "nessuno"], &long, "no user \"nessuno\"");
    refused(&["passwd", "anna"], "corta\n", "at least 10 needed");

    let out = user_cmd(&aula, &["passwd", "anna"], "un'altra password lunga\n");
    assert!(out.status.success(), "{}", common::stderr(&out));
    aula.ok(&["user", "disable", "m.rossi"]);
    let text = aula.ok(&["user", "list"]);
    let line = text.lines().find(|l| l.starts_with("m.rossi")).unwrap();
    assert!(
        line.contains("press") && line.contains("disabled"),
        "{text}"
    );
    let line = text.lines().find(|l| l.starts_with("anna")).unwrap();
    assert!(line.contains("active"), "{text}");
    // A clerk token works as well as a clerk account.
    assert!(aula
        .ok(&["token", "create", "--role", "clerk"])
        .starts_with("aula_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_the_page_says_so() {
    let site = Site::new().await;
    for (name, password) in [("paolo", "non è questa"), ("nessuno", PASSWORD)] {
        let answer = site.sign_in(name, password, "").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            answer.body.contains("Nome utente o password errati."),
            "{}",
            answer.body
        );
        assert_eq!(answer.cookie("aula_session"), None);
    }
    let answer = site.sign_in("paolo", "wrong", "").await;
    let english = site.send("GET", "/signin?lang=en", &[], "").await.body;
    assert!(english.contains("User name") && english.contains("<html lang=\"en\">"));
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // A form sent without its token cookie (another site's form) is refused before any check.
    let stale = site
        .send(
            "POST",
            "/signin",
            &[("content-type", "application/x-www-form-urlencoded")],
            &format!("csrf=abc&name=paolo&password={PASSWORD}"),
        )
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert!(stale.body.contains("Il modulo è scaduto"), "{}", stale.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_an_http_only_lax_cookie_and_the_page_names_the_user() {
    let site = Site::new().await;
    let answer = site.sign_in("paolo", PASSWORD, "").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location.as_deref(), Some("/workspace"));
    let set = answer
        .cookies
        .iter()
        .find(|c| c.starts_with("aula_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    assert_eq!(answer.cookie("aula_session").unwrap().len(), 64);
    let cookie = format!("aula_session={}", answer.cookie("aula_session").unwrap());
    let page = site.send("GET", "/press", &[("cookie", &cookie)], "").await;
    assert!(
        page.body.contains("<span id=\"signed-in\">paolo</span>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("action=\"/signout\""));
    let jobs = site
        .send("GET", "/api/v1/jobs", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(jobs.status, StatusCode::OK, "{}", jobs.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_request_that_changes_state_needs_the_csrf_token() {
    let site = Site::new().await;
    let (cookie, csrf) = site.session("chiara").await;
    let uri = site.markers_uri();
    let without = site
        .send("POST", &uri, &[("cookie", &cookie)], MARKER)
        .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert!(
        without.json()["error"]
            .as_str()
            .unwrap()
            .contains("CSRF token"),
        "{}",
        without.body
    );
    let wrong = site
        .send(
            "POST",
            &uri,
            &[("cookie", &cookie), ("x-csrf-token", "0000")],
            MARKER,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let with = site
        .send(
            "POST",
            &uri,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            MARKER,
        )
        .await;
    assert_eq!(with.status, StatusCode::OK, "{}", with.body);
    assert_eq!(with.json()["added"], 1);
    // A token in the header is exempt: no browser sends it by itself.
    let token = format!("Bearer {}", site.admin_token);
    let scripted = site
        .send("POST", &uri, &[("authorization", &token)], MARKER)
        .await;
    assert_eq!(scripted.status, StatusCode::OK, "{}", scripted.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_held_to_its_routes() {
    let site = Site::new().await;
    let (clerk, clerk_csrf) = site.session("chiara").await;
    let (press, press_csrf) = site.session("paolo").await;
    let as_clerk = [
        ("cookie", clerk.as_str()),
        ("x-csrf-token", clerk_csrf.as_str()),
    ];
    let as_press = [
        ("cookie", press.as_str()),
        ("x-csrf-token", press_csrf.as_str()),
    ];
    let clips = format!("/api/v1/sessions/{}/clips", site.id);
    let clip = site
        .send(
            "POST",
            &clips,
            &as_clerk,
            r#"{"item": 1, "preset": "audio-mp3"}"#,
        )
        .await;
    assert_eq!(clip.status, StatusCode::FORBIDDEN, "{}", clip.body);
    assert!(
        clip.body
            .contains("a clerk user cannot do this; it needs press"),
        "{}",
        clip.body
    );
    let marker = site
        .send("POST", &site.markers_uri(), &as_clerk, MARKER)
        .await;
    assert_eq!(marker.status, StatusCode::OK, "{}", marker.body);
    let closed = format!("/api/v1/sessions/{}/closed", site.id);
    let opened = site
        .send("POST", &closed, &as_clerk, r#"{"start": 600000}"#)
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    let correction = format!("/api/v1/sessions/{}/corrections", site.id);
    let fix = site
        .send("POST", &correction, &as_press, r#"{"kind": "undo"}"#)
        .await;
    assert_eq!(fix.status, StatusCode::FORBIDDEN, "{}", fix.body);
    let report = site.send("GET", "/api/v1/report", &as_clerk, "").await;
    assert_eq!(report.status, StatusCode::FORBIDDEN, "{}", report.body);
    let report = site.send("GET", "/api/v1/report", &as_press, "").await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_signing_out_the_old_cookie_no_longer_works() {
    let site = Site::new().await;
    let (cookie, csrf) = site.session("paolo").await;
    // Signing out is a state change too: without the token it is refused.
    let refused = site
        .send("POST", "/signout", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let out = site
        .send(
            "POST",
            "/signout",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(out.cookie("aula_session").as_deref(), Some(""));
    let jobs = site
        .send("GET", "/api/v1/jobs", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(jobs.status, StatusCode::UNAUTHORIZED, "{}", jobs.body);
    assert!(jobs.body.contains("/signin"), "{}", jobs.body);
    let page = site.send("GET", "/", &[("cookie", &cookie)], "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"signin-link\""), "{}", page.body);
    assert!(!page.body.contains("csrf-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_users_session_stops_working() {
    let site = Site::new().await;
    let (cookie, _) = site.session("paolo").await;
    let headers = [("cookie", cookie.as_str())];
    let jobs = || site.send("GET", "/api/v1/jobs", &headers, "");
    assert_eq!(jobs().await.status, StatusCode::OK);
    site.aula.ok(&["user", "disable", "paolo"]);
    assert_eq!(jobs().await.status, StatusCode::UNAUTHORIZED);
    let again = site.sign_in("paolo", PASSWORD, "").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_never_leads_off_site() {
    let site = Site::new().await;
    for (next, to) in [
        ("//evil.example", "/workspace"),
        ("/\\evil.example", "/workspace"),
        ("https://evil.example/", "/workspace"),
        (
            "/sessions/cc-2024-03-15?lang=en",
            "/sessions/cc-2024-03-15?lang=en",
        ),
    ] {
        let answer = site.sign_in("anna", PASSWORD, next).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(answer.location.as_deref(), Some(to), "{next}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_through_the_form_in_chromium_shows_the_user_in_the_nav() {
    use fantoccini::Locator;
    let aula = Aula::new();
    create_user(&aula, "chiara", "clerk");
    let home = aula.path().join("data");
    let server = start_server(&home, None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots/accounts");
    std::fs::create_dir_all(&shots).unwrap();
    for (width, height) in [(1280, 900), (360, 740)] {
        client.set_window_size(width, height).await.unwrap();
        client.goto(&format!("{base}/signin")).await.unwrap();
        let png = client.screenshot().await.unwrap();
        std::fs::write(shots.join(format!("signin-{width}.png")), png).unwrap();
    }
    client.set_window_size(1280, 900).await.unwrap();
    client
        .goto(&format!("{base}/signin?lang=en&next=/"))
        .await
        .unwrap();
    let field = |id: &'static str| client.find(Locator::Id(id));
    field("name")
        .await
        .unwrap()
        .send_keys("chiara")
        .await
        .unwrap();
    field("password")
        .await
        .unwrap()
        .send_keys("sbagliata!!")
        .await
        .unwrap();
    client
        .find(Locator::Css("form.signin button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = client
        .wait()
        .for_element(Locator::Id("signin-error"))
        .await
        .unwrap();
    assert_eq!(error.text().await.unwrap(), "Wrong user name or password.");
    let png = client.screenshot().await.unwrap();
    std::fs::write(shots.join("signin-refused-1280.png"), png).unwrap();
    field("password")
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Css("form.signin button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let who = client
        .wait()
        .for_element(Locator::Id("signed-in"))
        .await
        .unwrap();
    assert_eq!(who.text().await.unwrap(), "chiara");
    assert_eq!(client.current_url().await.unwrap().path(), "/");
    // The cookie is out of the page's reach.
    let visible = client
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert!(
        !visible.as_str().unwrap_or("").contains("aula_session"),
        "{visible}"
    );
    client.set_window_size(360, 740).await.unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(shots.join("signed-in-360.png"), png).unwrap();
    // Signing out through the nav's button ends it.
    client
        .find(Locator::Css("form.signout button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Id("signin-link"))
        .await
        .unwrap();
    client.close().await.unwrap();
    drop(server);
}
