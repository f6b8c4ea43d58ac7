//! The real `weir-server` binary: the embedded database started, stopped and restarted
//! with a temporary data directory, and two servers migrating one empty database at once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_weir-server");
const ADMIN_PASSWORD: &str = "process test password";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(envs: &[(&str, &str)], log_dir: &Path, name: &str) -> Server {
        let port = free_port();
        let log = log_dir.join(format!("{name}.log"));
        let password_file = log_dir.join("admin-password");
        std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).expect("password file");
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(BIN);
        cmd.env_remove("DATABASE_URL")
            .env("WEIR_BIND", format!("127.0.0.1:{port}"))
            .env("WEIR_LOG", "info")
            .env("WEIR_ADMIN_NAME", "admin")
            .env("WEIR_ADMIN_PASSWORD_FILE", &password_file)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone"))
            .stderr(file);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("weir-server starts");
        Server { child, port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_ready(&mut self, within: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("weir-server exited with {status}:\n{}", self.log_text());
            }
            if let Ok(res) = client.get(self.url("/ready")).send().await
                && res.status().as_u16() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not ready in {within:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in as the administrator the deployment created, then reads the info.
    async fn info(&self) -> serde_json::Value {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let signed_in = client
            .post(self.url("/api/v1/sessions"))
            .json(&serde_json::json!({"name": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("answers");
        assert_eq!(
            signed_in.status().as_u16(),
            200,
            "sign-in:\n{}",
            self.log_text()
        );
        let info = client
            .get(self.url("/api/v1/system/info"))
            .send()
            .await
            .expect("answers");
        assert_eq!(info.status().as_u16(), 200);
        info.json().await.expect("json")
    }

    fn stop(mut self) -> String {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("signal");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "clean exit after SIGTERM:\n{}",
                    self.log_text()
                );
                return self.log_text();
            }
            assert!(
                Instant::now() < deadline,
                "still running 60 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The cluster folder a data directory's server recorded.
fn cluster_dir(data_dir: &Path) -> PathBuf {
    PathBuf::from(
        std::fs::read_to_string(data_dir.join("postgres-cluster"))
            .expect("the server records where its cluster lives")
            .trim(),
    )
}

fn postmaster_running(cluster: &Path) -> bool {
    match std::fs::read_to_string(cluster.join("postmaster.pid")) {
        Ok(text) => {
            let pid: i32 = text
                .lines()
                .next()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            pid > 0 && Path::new(&format!("/proc/{pid}")).exists()
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn embedded_database_survives_a_restart() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let data_dir = scratch.path().join("data");
    let data = data_dir.to_str().expect("utf-8");
    let envs = [("WEIR_DATA_DIR", data)];

    let mut first = Server::start(&envs, scratch.path(), "first");
    first.wait_ready(Duration::from_secs(90)).await;
    let info = first.info().await;
    assert_eq!(info["database_mode"], "embedded");
    let instance = info["instance_id"].clone();
    let cluster = cluster_dir(&data_dir);
    assert!(
        postmaster_running(&cluster),
        "the cluster runs while the server does"
    );
    let log = first.stop();
    assert!(
        log.contains(&cluster.display().to_string()),
        "the log names the cluster folder:\n{log}"
    );
    assert!(
        !postmaster_running(&cluster),
        "the cluster stops with the server"
    );

    let mut second = Server::start(&envs, scratch.path(), "second");
    second.wait_ready(Duration::from_secs(60)).await;
    assert_eq!(
        second.info().await["instance_id"],
        instance,
        "same installation after restart"
    );
    let log = second.stop();
    assert!(
        !log.contains("first start"),
        "the cluster is reused, not recreated:\n{log}"
    );
    assert!(!postmaster_running(&cluster));

    if cluster.starts_with("/var/lib/weir/clusters") {
        std::fs::remove_dir_all(&cluster).expect("clean up the relocated cluster");
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_is_refused() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let data_dir = scratch.path().join("data");
    let data = data_dir.to_str().expect("utf-8");
    let envs = [("WEIR_DATA_DIR", data)];
    let mut first = Server::start(&envs, scratch.path(), "first");
    first.wait_ready(Duration::from_secs(90)).await;

    let mut second = Server::start(&envs, scratch.path(), "second");
    let status = tokio::task::spawn_blocking(move || {
        let status = second.child.wait().expect("wait");
        (status, second.log_text())
    })
    .await
    .expect("join");
    assert!(!status.0.success());
    assert!(
        status.1.contains("another weir-server is already using"),
        "{}",
        status.1
    );

    let cluster = cluster_dir(&data_dir);
    first.stop();
    if cluster.starts_with("/var/lib/weir/clusters") {
        std::fs::remove_dir_all(&cluster).expect("clean up");
    }
}

#[tokio::test]
async fn two_servers_migrating_one_empty_database_both_come_up() {
    let base =
        std::env::var("DATABASE_URL").expect("DATABASE_URL names a Postgres server for tests");
    let admin = sqlx::PgPool::connect(&base).await.expect("connect");
    let name = format!("weir_race_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("create database {name}"))
        .execute(&admin)
        .await
        .expect("create");
    let mut url = reqwest::Url::parse(&base).expect("url");
    url.set_path(&format!("/{name}"));

    let scratch = tempfile::tempdir().expect("tempdir");
    let envs = [
        ("DATABASE_URL", url.as_str()),
        ("WEIR_DATA_DIR", scratch.path().to_str().expect("utf-8")),
    ];
    let mut a = Server::start(&envs, scratch.path(), "a");
    let mut b = Server::start(&envs, scratch.path(), "b");
    tokio::join!(
        a.wait_ready(Duration::from_secs(30)),
        b.wait_ready(Duration::from_secs(30))
    );
    assert_eq!(a.info().await["instance_id"], b.info().await["instance_id"]);
    a.stop();
    b.stop();
    sqlx::raw_sql(&format!("drop database {name} with (force)"))
        .execute(&admin)
        .await
        .expect("drop");
}

#[test]
fn help_explains_every_setting() {
    let out = Command::new(BIN).arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "WEIR_BIND",
        "DATABASE_URL",
        "WEIR_DATA_DIR",
        "WEIR_PUBLIC_URL",
        "WEIR_SECRETS_KEYS",
        "WEIR_SECRETS_KEY_FILE",
        "WEIR_LOG_FORMAT",
        "WEIR_ADMIN_NAME",
        "WEIR_ADMIN_PASSWORD_FILE",
        "/var/lib/weir/clusters",
        "apt-get install postgresql",
    ] {
        assert!(help.contains(var), "--help mentions {var}");
    }
}

#[test]
fn a_bad_keyring_stops_the_start_with_a_clear_message() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .env("WEIR_SECRETS_KEYS", "v1:c2hvcnQ=")
        .env("WEIR_DATA_DIR", scratch.path())
        .env("WEIR_BIND", format!("127.0.0.1:{}", free_port()))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WEIR_SECRETS_KEYS is invalid"), "{err}");
    assert!(err.contains("32 bytes"), "{err}");
    assert!(!err.contains("c2hvcnQ"), "the key is not echoed: {err}");
}

#[tokio::test]
async fn first_start_without_an_admin_prints_a_one_time_setup_link() {
    let base =
        std::env::var("DATABASE_URL").expect("DATABASE_URL names a Postgres server for tests");
    let admin = sqlx::PgPool::connect(&base).await.expect("connect");
    let name = format!("weir_setup_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("create database {name}"))
        .execute(&admin)
        .await
        .expect("create");
    let mut url = reqwest::Url::parse(&base).expect("url");
    url.set_path(&format!("/{name}"));

    let scratch = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let log = scratch.path().join("server.log");
    let mut child = Command::new(BIN)
        .env("DATABASE_URL", url.as_str())
        .env("WEIR_DATA_DIR", scratch.path())
        .env("WEIR_BIND", format!("127.0.0.1:{port}"))
        .env("WEIR_PUBLIC_URL", "https://weir.example.com/")
        .env_remove("WEIR_ADMIN_NAME")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("/setup?token="))
    })
    .await
    .expect("join")
    .expect("the setup link is printed");
    let link = line.trim();
    assert!(
        link.starts_with("https://weir.example.com/setup?token="),
        "{link}"
    );
    let token = link.rsplit('=').next().expect("token");
    assert!(token.len() >= 40, "a long random token: {token}");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !logged.contains(token),
        "the token is printed, never logged"
    );

    let client = reqwest::Client::new();
    let done = client
        .post(format!("http://127.0.0.1:{port}/api/v1/setup"))
        .json(&serde_json::json!({"token": token, "name": "first", "password": "the first admin's password"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(done.status().as_u16(), 201);
    let set_cookie = done
        .headers()
        .get("set-cookie")
        .expect("cookie")
        .to_str()
        .expect("ascii");
    assert!(
        set_cookie.contains("Secure"),
        "https public URL makes cookies Secure: {set_cookie}"
    );

    let _ = child.kill();
    let _ = child.wait();
    sqlx::raw_sql(&format!("drop database {name} with (force)"))
        .execute(&admin)
        .await
        .expect("drop");
}

#[sqlx::test(migrations = "../migrations")]
async fn secrets_rotate_rewraps_every_secret_from_the_command_line(pool: sqlx::PgPool) {
    use weir_domain::identity::{Credential, Principal};
    use weir_domain::secrets::{self, Keyring};
    const V1: &str = "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const V2: &str = "v2:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
    weir_domain::identity::bootstrap::bootstrap(
        &pool,
        Some((
            "admin".into(),
            secrecy::SecretString::from("administrator password".to_string()),
        )),
    )
    .await
    .expect("admin");
    let user_id: uuid::Uuid = sqlx::query_scalar("select id from app_user")
        .fetch_one(&pool)
        .await
        .expect("admin id");
    let admin = Principal {
        user_id,
        name: "admin".into(),
        is_admin: true,
        is_service_account: false,
        credential: Credential::Session,
    };
    let old = Keyring::parse(V1).expect("v1");
    for name in ["one", "two"] {
        secrets::create(
            &pool,
            &old,
            &admin,
            weir_api::secrets::CreateSecretRequest {
                name: name.into(),
                values: [("token".to_string(), format!("{name} token"))].into(),
                team: None,
            },
            None,
        )
        .await
        .expect("created");
    }
    let mut url = reqwest::Url::parse(
        &std::env::var("DATABASE_URL").expect("DATABASE_URL names a Postgres server for tests"),
    )
    .expect("url");
    url.set_path(&format!(
        "/{}",
        pool.connect_options().get_database().expect("a database")
    ));
    let scratch = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["secrets", "rotate"])
        .env("DATABASE_URL", url.as_str())
        .env("WEIR_DATA_DIR", scratch.path())
        .env("WEIR_SECRETS_KEYS", format!("{V2},{V1}"))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("re-wrapped 2 secret(s) under key v2; 0 left"),
        "{stdout}"
    );
    let only_new = Keyring::parse(V2).expect("v2");
    let revealed = secrets::reveal(&pool, &only_new, &admin, "two", None)
        .await
        .expect("readable with the new key alone");
    assert_eq!(revealed.values["token"], "two token");
}
