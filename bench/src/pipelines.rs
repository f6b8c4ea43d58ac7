//! `weir-bench pipelines` and `weir-bench sdk-pipelines`: how long a pipeline of trivial
//! steps takes as a whole process (3 steps; chains of 1 and 100 steps for the per-step
//! overhead), and how many REST requests a run costs, counted by a proxy between the
//! client and the server. YAML pipelines run as `weir pipeline run NAME --wait`; Rust
//! pipelines as the pipeline's own binary (`sdk-chain`, release build).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct Options {
    pub server: PathBuf,
    /// What runs the pipelines.
    pub subject: Subject,
    pub database_url: String,
    pub runs: usize,
}

/// The client whose runs are timed.
#[derive(Debug, Clone)]
pub enum Subject {
    /// The `weir` CLI running YAML pipelines.
    Yaml { weir: PathBuf },
    /// The Rust SDK's `sdk-chain` binary (`WEIR_CHAIN_STEPS` steps).
    Sdk { chain: PathBuf },
}

impl Subject {
    fn what(&self) -> &'static str {
        match self {
            Subject::Yaml { .. } => "`weir pipeline run --wait`",
            Subject::Sdk { .. } => "Rust pipeline binary",
        }
    }

    /// Runs the `n`-step pipeline once as a whole process against `url`.
    fn run(&self, n: usize, url: &str, key: &str, cwd: &Path) -> anyhow::Result<Duration> {
        let mut command = match self {
            Subject::Yaml { weir } => {
                let mut command = Command::new(weir);
                command.args(["pipeline", "run", chain_name(n), "--wait"]);
                command
            }
            Subject::Sdk { chain } => {
                let mut command = Command::new(chain);
                command.env("WEIR_CHAIN_STEPS", n.to_string());
                command
            }
        };
        command
            .current_dir(cwd)
            .env("WEIR_URL", url)
            .env("WEIR_API_KEY", key)
            .stdin(Stdio::null());
        timed(command)
    }
}

fn chain_name(n: usize) -> &'static str {
    match n {
        1 => "one",
        3 => "three",
        _ => "hundred",
    }
}

pub(crate) struct Server {
    child: std::process::Child,
    pub url: String,
    pub key: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) async fn start_server(server: &Path, database_url: &str) -> anyhow::Result<Server> {
    let data = tempfile::tempdir()?;
    let password = "bench admin password";
    std::fs::write(data.path().join("pw"), format!("{password}\n"))?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new(server)
        .env("DATABASE_URL", database_url)
        .env("WEIR_DATA_DIR", data.path())
        .env("WEIR_BIND", format!("127.0.0.1:{port}"))
        .env("WEIR_PUBLIC_URL", &url)
        .env("WEIR_ADMIN_NAME", "admin")
        .env("WEIR_ADMIN_PASSWORD_FILE", data.path().join("pw"))
        .env("WEIR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("Failed to start {}", server.display()))?;
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{url}/ready")).send().await
            && r.status().is_success()
        {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("weir-server did not get ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signed = http
        .post(format!("{url}/api/v1/sessions"))
        .json(&serde_json::json!({"name": "admin", "password": password}))
        .send()
        .await?;
    if !signed.status().is_success() {
        bail!("sign-in failed: {}", signed.text().await?);
    }
    let key: serde_json::Value = http
        .post(format!("{url}/api/v1/api-keys"))
        .header("origin", &url)
        .json(&serde_json::json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let key = key["secret"].as_str().context("no API key")?.to_string();
    Ok(Server {
        child,
        url,
        key,
        _data: data,
    })
}

/// A chain of `n` trivial command steps, each passing a small file to the next; the
/// cache is off so every run executes every step.
fn chain_yaml(dir: &Path, name: &str, n: usize) -> anyhow::Result<PathBuf> {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder)?;
    let mut yaml = format!("name: {name}\nsteps:\n");
    for i in 0..n {
        yaml.push_str(&format!("  - name: s{i}\n"));
        if i == 0 {
            yaml.push_str("    command: [sh, -c, 'echo 1 > \"$WEIR_OUTPUT_O\"']\n");
        } else {
            yaml.push_str("    command: [sh, -c, 'cat \"$WEIR_INPUT_I\" > \"$WEIR_OUTPUT_O\"']\n");
            yaml.push_str(&format!("    inputs: {{i: {{from: s{}.o}}}}\n", i - 1));
        }
        yaml.push_str("    outputs: {o: {type: file}}\n    settings: {enable_cache: false}\n");
    }
    let file = folder.join("pipeline.yaml");
    std::fs::write(&file, yaml)?;
    Ok(file)
}

/// Runs a command to its end; its wall time.
fn timed(mut command: Command) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = command
        .output()
        .with_context(|| format!("Failed to run {:?}", command.get_program()))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!(
            "{:?} failed: {}{}",
            command.get_program(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(took)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Forwards every request to `target`, counting them by method and path shape.
async fn counting_proxy(
    target: String,
) -> anyhow::Result<(String, Arc<Mutex<BTreeMap<String, usize>>>)> {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;
    let counts: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let seen = counts.clone();
    let http = reqwest::Client::new();
    let handler = move |req: Request| {
        let http = http.clone();
        let target = target.clone();
        let seen = seen.clone();
        async move {
            let shape: Vec<String> = req
                .uri()
                .path()
                .split('/')
                .enumerate()
                .map(|(i, part)| {
                    if i == 4 || (i == 6 && req.uri().path().contains("/steps/")) {
                        "{…}".to_string()
                    } else {
                        part.to_string()
                    }
                })
                .collect();
            *seen
                .lock()
                .expect("counts")
                .entry(format!("{} {}", req.method(), shape.join("/")))
                .or_default() += 1;
            let uri = format!(
                "{target}{}",
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/")
            );
            let method = req.method().clone();
            let headers = req.headers().clone();
            let body = axum::body::to_bytes(req.into_body(), 64 << 20)
                .await
                .unwrap_or_default();
            let mut forwarded = http.request(method, uri).body(body);
            for (name, value) in headers.iter() {
                if name != "host" {
                    forwarded = forwarded.header(name, value);
                }
            }
            let answer = match forwarded.send().await {
                Ok(a) => a,
                Err(_) => {
                    return Response::builder()
                        .status(502)
                        .body(Body::empty())
                        .expect("response");
                }
            };
            let mut builder = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                builder = builder.header(name, value);
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            builder.body(Body::from(bytes)).expect("response")
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, counts))
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let db = crate::ScratchDb::create(&opts.database_url).await?;
    let server = start_server(&opts.server, &db.url).await?;
    let work = tempfile::tempdir()?;
    let chains = [3usize, 1, 100];
    if let Subject::Yaml { weir } = &opts.subject {
        for n in chains {
            let file = chain_yaml(work.path(), chain_name(n), n)?;
            let mut command = Command::new(weir);
            command
                .args(["pipeline", "register", file.to_str().context("path")?])
                .env("WEIR_URL", &server.url)
                .env("WEIR_API_KEY", &server.key);
            timed(command)?;
        }
    }
    let mut medians = BTreeMap::new();
    for n in chains {
        // One warm-up run (page cache, connection pool, snapshot), then the measured ones.
        opts.subject.run(n, &server.url, &server.key, work.path())?;
        let runs = if n >= 100 {
            opts.runs.min(5)
        } else {
            opts.runs
        };
        let mut times = Vec::new();
        for _ in 0..runs {
            times.push(opts.subject.run(n, &server.url, &server.key, work.path())?);
        }
        let (min, max) = (
            *times.iter().min().context("runs")?,
            *times.iter().max().context("runs")?,
        );
        let m = median(times);
        println!(
            "{n:>3}-step pipeline, whole {}: median {} (min {}, max {}, {runs} runs)",
            opts.subject.what(),
            ms(m),
            ms(min),
            ms(max)
        );
        medians.insert(n, m);
    }
    let overhead = (medians[&100].saturating_sub(medians[&1])) / 99;
    println!(
        "per-step overhead (100-step chain − 1-step) / 99: {}",
        ms(overhead)
    );

    let (proxy, counts) = counting_proxy(server.url.clone()).await?;
    for n in chains {
        counts.lock().expect("counts").clear();
        let (subject, url, key, cwd) = (
            opts.subject.clone(),
            proxy.clone(),
            server.key.clone(),
            work.path().to_path_buf(),
        );
        tokio::task::spawn_blocking(move || subject.run(n, &url, &key, &cwd)).await??;
        let counted = counts.lock().expect("counts").clone();
        let total: usize = counted.values().sum();
        println!(
            "{n:>3}-step run: {total} REST requests (target 2 + 2 per step = {})",
            2 + 2 * n
        );
        for (route, k) in counted {
            println!("      {k:>4}  {route}");
        }
    }
    drop(server);
    db.drop_db().await?;
    Ok(())
}
