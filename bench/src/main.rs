//! Weir benchmarks. `weir-bench startup`: time from process start to `/ready` answering
//! 200 on an existing, already migrated database, and resident memory once idle.
//! `weir-bench s3-artifact`: upload and download throughput of a large artifact through
//! the S3 artifact store, and this process's peak resident memory meanwhile.
//! `weir-bench pipelines`: YAML pipelines as whole processes and REST requests per run.
//! `weir-bench seed`: fills a database with many runs and one large run.
//! `weir-bench large`: the runs list, the run page and the graph layout at 100,000 runs.

mod large;
mod pipelines;
mod seed;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};
use weir_flavors::stores::ArtifactStore;

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
    /// Upload and download MB/s of one large file through the S3 artifact store, and
    /// the peak RSS of this process (VmHWM) meanwhile.
    S3Artifact {
        /// Size of the file, in MiB.
        #[arg(long, default_value_t = 1024)]
        size_mb: u64,
        /// The S3-compatible server (`scripts/lib/env.sh`'s `ensure_s3` starts one).
        #[arg(long, env = "WEIR_TEST_S3_ENDPOINT")]
        endpoint: String,
        /// The bucket; it must exist. The object is deleted afterwards.
        #[arg(long, default_value = "weir-test")]
        bucket: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[arg(
            long,
            env = "AWS_ACCESS_KEY_ID",
            default_value = "test",
            hide_env_values = true
        )]
        access_key_id: String,
        #[arg(
            long,
            env = "AWS_SECRET_ACCESS_KEY",
            default_value = "test",
            hide_env_values = true
        )]
        secret_access_key: String,
        /// Where the file and its downloaded copy are written (both are removed).
        #[arg(long, default_value_os_t = std::env::temp_dir())]
        dir: PathBuf,
    },
    /// Wall time of YAML pipelines as whole `weir pipeline run --wait` processes (3
    /// trivial steps; chains of 1 and 100 for the per-step overhead) and the REST
    /// requests a run costs. Starts its own weir-server on a scratch database.
    Pipelines {
        /// The weir-server binary (a release build).
        #[arg(long)]
        server: PathBuf,
        /// The weir CLI binary (a release build).
        #[arg(long)]
        weir: PathBuf,
        /// A PostgreSQL server URL; a scratch database is created on it and dropped after.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Measured runs of each pipeline (the 100-step chain runs at most 5 times).
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// The same for Rust pipelines: the SDK's `sdk-chain` binary (release build) runs
    /// chains of 3, 1 and 100 trivial steps as whole processes.
    SdkPipelines {
        /// The weir-server binary (a release build).
        #[arg(long)]
        server: PathBuf,
        /// The `sdk-chain` binary of weir-sdk-fixtures (a release build).
        #[arg(long)]
        chain: PathBuf,
        /// A PostgreSQL server URL; a scratch database is created on it and dropped after.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Measured runs of each pipeline (the 100-step chain runs at most 5 times).
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Fills a migrated Weir database (one weir-server has started on) with pipelines,
    /// runs and step runs spread over the last year, and optionally one large run.
    /// Prints the large run's name.
    Seed {
        /// The database to fill.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// The user the runs belong to (default: the first administrator).
        #[arg(long)]
        owner: Option<String>,
        /// Start of every seeded name; seeding twice needs another prefix.
        #[arg(long, default_value = "seed")]
        prefix: String,
        /// Pipelines the runs are spread over.
        #[arg(long, default_value_t = 20)]
        pipelines: u32,
        /// Runs to create (at most 999,999).
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(0..1_000_000))]
        runs: u32,
        /// Steps of each seeded pipeline (a chain), hence step runs per run.
        #[arg(long, default_value_t = 10)]
        steps_per_run: u32,
        /// One large run of CHAINSxLENGTH steps (e.g. 50x100: 5,000 steps).
        #[arg(long, value_parser = seed::parse_shape)]
        big_run: Option<(u32, u32)>,
    },
    /// The runs list, a 5,000-step run's page and graph layout, and runs-list throughput
    /// on a database seeded with 100,000 runs and 1,000,000 step runs. Starts its own
    /// weir-server on a scratch database.
    Large {
        /// The weir-server binary (a release build).
        #[arg(long)]
        server: PathBuf,
        /// A PostgreSQL server URL; a scratch database is created on it and dropped after.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Runs to seed.
        #[arg(long, default_value_t = 100_000)]
        runs: u32,
        /// Requests per latency figure.
        #[arg(long, default_value_t = 1_000)]
        samples: usize,
        /// Seconds of the throughput measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent connections of the throughput measurement.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Keep the scratch database and print its URL (to look at it in a browser).
        #[arg(long)]
        keep: bool,
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
        Bench::S3Artifact {
            size_mb,
            endpoint,
            bucket,
            region,
            access_key_id,
            secret_access_key,
            dir,
        } => {
            let config = serde_json::json!({
                "bucket": bucket,
                "prefix": "weir-bench",
                "region": region,
                "endpoint_url": endpoint,
                "force_path_style": true,
                "access_key_id": access_key_id,
                "secret_access_key": secret_access_key,
            });
            s3_artifact(size_mb, &config, &dir).await
        }
        Bench::Pipelines {
            server,
            weir,
            database_url,
            runs,
        } => {
            if runs == 0 {
                bail!("--runs must be at least 1");
            }
            pipelines::run(pipelines::Options {
                server,
                subject: pipelines::Subject::Yaml { weir },
                database_url,
                runs,
            })
            .await
        }
        Bench::SdkPipelines {
            server,
            chain,
            database_url,
            runs,
        } => {
            if runs == 0 {
                bail!("--runs must be at least 1");
            }
            pipelines::run(pipelines::Options {
                server,
                subject: pipelines::Subject::Sdk { chain },
                database_url,
                runs,
            })
            .await
        }
        Bench::Seed {
            database_url,
            owner,
            prefix,
            pipelines,
            runs,
            steps_per_run,
            big_run,
        } => {
            let seeded = seed::run(&seed::Options {
                database_url,
                owner,
                prefix,
                pipelines,
                runs,
                steps_per_run,
                big_run,
            })
            .await?;
            if let Some(name) = seeded.big_run {
                println!("{name}");
            }
            Ok(())
        }
        Bench::Large {
            server,
            database_url,
            runs,
            samples,
            seconds,
            connections,
            keep,
        } => {
            large::run(large::Options {
                server,
                database_url,
                runs,
                samples: samples.max(10),
                seconds: seconds.max(1),
                connections: connections.max(1),
                keep,
            })
            .await
        }
    }
}

/// A database created for one benchmark and dropped after it.
pub(crate) struct ScratchDb {
    admin: sqlx::PgPool,
    name: String,
    pub url: String,
}

impl ScratchDb {
    pub async fn create(base_url: &str) -> anyhow::Result<Self> {
        let admin = sqlx::PgPool::connect(base_url)
            .await
            .context("connect to DATABASE_URL")?;
        let name = format!("weir_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("create database {name}"))
            .execute(&admin)
            .await?;
        let mut url = reqwest::Url::parse(base_url)?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            admin,
            name,
            url: url.to_string(),
        })
    }

    pub async fn drop_db(self) -> anyhow::Result<()> {
        sqlx::raw_sql(&format!("drop database {} with (force)", self.name))
            .execute(&self.admin)
            .await?;
        Ok(())
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

async fn s3_artifact(size_mb: u64, config: &serde_json::Value, dir: &Path) -> anyhow::Result<()> {
    if size_mb == 0 {
        bail!("--size-mb must be at least 1");
    }
    let store = ArtifactStore::from_config("s3", config).await?;
    let name = format!("weir-bench-{}", uuid::Uuid::new_v4().simple());
    let source = dir.join(format!("{name}.bin"));
    let copy = dir.join(format!("{name}.download"));
    let bytes = size_mb * 1024 * 1024;
    let mb = bytes as f64 / 1e6;

    let result = async {
        let expected = write_patterned_file(&source, bytes)
            .with_context(|| format!("write {}", source.display()))?;

        let started = Instant::now();
        let stored = store.upload_file(&source, &format!("{name}.bin")).await?;
        let upload = started.elapsed().as_secs_f64();
        let uploaded = async {
            if stored.content_hash != expected {
                bail!(
                    "the upload hashed {} instead of {expected}",
                    stored.content_hash
                );
            }
            let started = Instant::now();
            let written = store.download_file(&stored.uri, &copy).await?;
            let download = started.elapsed().as_secs_f64();
            if written != bytes {
                bail!("downloaded {written} bytes of {bytes}");
            }
            let got = hash_file(&copy).with_context(|| format!("read {}", copy.display()))?;
            if got != expected {
                bail!("the download hashes to {got}, the upload to {expected}");
            }
            anyhow::Ok(download)
        }
        .await;
        store.delete(&stored.uri).await?;
        let download = uploaded?;

        println!("S3 artifact store, one {size_mb} MiB file ({})", stored.uri);
        println!("  upload:    {upload:6.1} s   {:7.1} MB/s", mb / upload);
        println!("  download:  {download:6.1} s   {:7.1} MB/s", mb / download);
        println!("  sha256 of the download matches the upload");
        println!(
            "  peak RSS (VmHWM) of this process: {:.1} MiB",
            peak_rss_kib()? as f64 / 1024.0
        );
        anyhow::Ok(())
    }
    .await;
    std::fs::remove_file(&source).ok();
    std::fs::remove_file(&copy).ok();
    result
}

/// Writes `len` pseudo-random bytes 1 MiB at a time; answers `sha256:<hex>` of them.
fn write_patterned_file(path: &Path, len: u64) -> std::io::Result<String> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1024 * 1024];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
        for word in chunk[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        hasher.update(&chunk[..n]);
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    file.flush()?;
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        hasher.update(&chunk[..n]);
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

/// This process's peak resident memory, in KiB.
fn peak_rss_kib() -> anyhow::Result<u64> {
    std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("VmHWM missing from /proc/self/status")
}
