//! Weir benchmarks. `weir-bench startup`: time from process start to `/ready` answering
//! 200 on an existing, already migrated database, and resident memory once idle.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "weir-bench", about = "Benchmarks of the Weir server")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Start-up time to /ready and idle RSS of weir-server on an existing database.
    Startup {
        /// The weir-server binary to measure (a release build).
        #[arg(long)]
        server: PathBuf,
        /// A PostgreSQL server URL; a scratch database is created on it and dropped after.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Number of starts to measure.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Seconds to let the server idle before reading its RSS.
        #[arg(long, default_value_t = 2)]
        idle_secs: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Bench::Startup {
            server,
            database_url,
            runs,
            idle_secs,
        } => startup(server, &database_url, runs, Duration::from_secs(idle_secs)).await,
    }
}

async fn startup(
    server: PathBuf,
    base_url: &str,
    runs: usize,
    idle: Duration,
) -> anyhow::Result<()> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let admin = sqlx::PgPool::connect(base_url)
        .await
        .context("connect to DATABASE_URL")?;
    let name = format!("weir_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("create database {name}"))
        .execute(&admin)
        .await?;
    let mut url = reqwest::Url::parse(base_url)?;
    url.set_path(&format!("/{name}"));
    let data_dir = std::env::temp_dir().join(format!("{name}-data"));

    let result = async {
        // The first start migrates the empty database; it is not counted.
        measure_once(&server, url.as_str(), &data_dir, Duration::ZERO).await?;
        let mut ready_ms = Vec::with_capacity(runs);
        let mut rss_kib = Vec::with_capacity(runs);
        for _ in 0..runs {
            let (ms, rss) = measure_once(&server, url.as_str(), &data_dir, idle).await?;
            ready_ms.push(ms);
            rss_kib.push(rss);
        }
        ready_ms.sort_by(f64::total_cmp);
        rss_kib.sort_unstable();
        println!("weir-server start-up on an existing database, {runs} runs");
        println!(
            "  process start to /ready 200:  median {:.0} ms   min {:.0} ms   max {:.0} ms",
            ready_ms[runs / 2],
            ready_ms[0],
            ready_ms[runs - 1]
        );
        println!(
            "  RSS after {} s idle:          median {:.1} MiB   max {:.1} MiB",
            idle.as_secs(),
            rss_kib[runs / 2] as f64 / 1024.0,
            rss_kib[runs - 1] as f64 / 1024.0
        );
        anyhow::Ok(())
    }
    .await;
    sqlx::raw_sql(&format!("drop database {name} with (force)"))
        .execute(&admin)
        .await
        .ok();
    std::fs::remove_dir_all(&data_dir).ok();
    result
}

/// Starts the server, waits for /ready, idles, reads VmRSS, stops it with SIGTERM.
async fn measure_once(
    server: &PathBuf,
    database_url: &str,
    data_dir: &PathBuf,
    idle: Duration,
) -> anyhow::Result<(f64, u64)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let client = reqwest::Client::new();
    let ready_url = format!("http://127.0.0.1:{port}/ready");
    let started = Instant::now();
    let mut child = Command::new(server)
        .env("DATABASE_URL", database_url)
        .env("WEIR_DATA_DIR", data_dir)
        .env("WEIR_BIND", format!("127.0.0.1:{port}"))
        .env("WEIR_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start {}", server.display()))?;
    let ready_ms = loop {
        if let Ok(res) = client.get(&ready_url).send().await
            && res.status().as_u16() == 200
        {
            break started.elapsed().as_secs_f64() * 1000.0;
        }
        if let Some(status) = child.try_wait()? {
            bail!("weir-server exited with {status} before it was ready");
        }
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().ok();
            bail!("weir-server was not ready within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(idle).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("VmRSS missing from /proc")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id())?),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    child.wait()?;
    Ok((ready_ms, rss_kib))
}
