//! `weir-bench large`: Weir at 100,000 runs. Seeds a scratch database (see
//! [`crate::seed`]) through a release weir-server, then measures on loopback:
//!
//! - `GET /api/v1/runs?limit=50` unfiltered, by pipeline, by status, and by both
//!   (`--samples` requests each, one at a time, after 20 unmeasured ones): p50 and p99;
//! - the HTML of the 5,000-step run's page, as a signed-in browser asks for it;
//! - the graph of 5,000 steps built from the spec, laid out and drawn as SVG, in this
//!   process (the server's own code);
//! - the runs list's throughput with `--connections` clients for `--seconds`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::ScratchDb;
use crate::pipelines::start_server;

pub struct Options {
    pub server: PathBuf,
    pub database_url: String,
    pub runs: u32,
    pub samples: usize,
    pub seconds: u64,
    pub connections: usize,
    pub keep: bool,
}

/// p50 and p99 of `samples`, in milliseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

async fn latency(
    http: &reqwest::Client,
    url: &str,
    auth: Option<&str>,
    samples: usize,
) -> anyhow::Result<(f64, f64, usize)> {
    let mut times = Vec::with_capacity(samples);
    let mut bytes = 0;
    for i in 0..samples + 20 {
        let mut request = http.get(url);
        if let Some(key) = auth {
            request = request.bearer_auth(key);
        }
        let start = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let took = start.elapsed();
        if !status.is_success() {
            bail!(
                "{url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        bytes = body.len();
        if i >= 20 {
            times.push(took);
        }
    }
    let (p50, p99) = percentiles(&mut times);
    Ok((p50, p99, bytes))
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let db = ScratchDb::create(&opts.database_url).await?;
    let result = measure(&opts, &db.url).await;
    if opts.keep {
        eprintln!("kept the database: {}", db.url);
    } else {
        db.drop_db().await?;
    }
    result
}

async fn measure(opts: &Options, database_url: &str) -> anyhow::Result<()> {
    let server = start_server(&opts.server, database_url).await?;
    let (chains, length) = (50, 100);
    let seeded = crate::seed::run(&crate::seed::Options {
        database_url: database_url.to_string(),
        owner: None,
        prefix: "seed".into(),
        pipelines: 20,
        runs: opts.runs,
        steps_per_run: 10,
        big_run: Some((chains, length)),
    })
    .await?;
    let big_run = seeded.big_run.context("no large run")?;
    let api = reqwest::Client::builder().build()?;
    let base = &server.url;
    let key = server.key.as_str();

    println!(
        "runs list, {} runs seeded, {} requests each:",
        opts.runs, opts.samples
    );
    println!("| query | p50 | p99 | response |");
    println!("|---|---|---|---|");
    for (label, query) in [
        ("unfiltered", "limit=50"),
        ("pipeline", "limit=50&pipeline=seed-pipeline-07"),
        ("status", "limit=50&status=failed"),
        (
            "pipeline and status",
            "limit=50&pipeline=seed-pipeline-07&status=failed",
        ),
    ] {
        let url = format!("{base}/api/v1/runs?{query}");
        let (p50, p99, bytes) = latency(&api, &url, Some(key), opts.samples).await?;
        println!(
            "| {label} (`?{query}`) | {p50:.2} ms | {p99:.2} ms | {:.0} KB |",
            bytes as f64 / 1000.0
        );
    }

    // The run page as a browser asks for it: with the session cookie.
    let browser = reqwest::Client::builder().cookie_store(true).build()?;
    let signed = browser
        .post(format!("{base}/api/v1/sessions"))
        .json(&serde_json::json!({"name": "admin", "password": "bench admin password"}))
        .send()
        .await?;
    if !signed.status().is_success() {
        bail!("sign-in failed: {}", signed.text().await?);
    }
    let page_samples = (opts.samples / 20).max(10);
    let page = format!("{base}/runs/{big_run}");
    let (p50, p99, bytes) = latency(&browser, &page, None, page_samples).await?;
    println!();
    println!(
        "run page of {} steps ({page_samples} requests): p50 {p50:.1} ms, p99 {p99:.1} ms, {:.2} MB of HTML",
        chains * length,
        bytes as f64 / 1e6
    );

    // The graph, in this process: spec → nodes and edges → layout → SVG.
    let spec_text: (String,) = {
        let pool = sqlx::PgPool::connect(database_url).await?;
        sqlx::query_as(
            "select s.spec::text from snapshot s join pipeline p on p.id = s.pipeline_id
              where p.name = $1",
        )
        .bind(format!("seed-big-{chains}x{length}"))
        .fetch_one(&pool)
        .await?
    };
    let spec: weir_api::pipelines::PipelineSpec = serde_json::from_str(&spec_text.0)?;
    let now = chrono::Utc::now();
    let mut layout_times = Vec::new();
    let mut svg_times = Vec::new();
    let mut svg_bytes = 0;
    for i in 0..22 {
        let start = Instant::now();
        let dag = weir_app::runs::run_dag(Some(&spec), &[], now);
        let laid_out = start.elapsed();
        let svg = weir_app::graph_svg::render(&dag, &Default::default());
        let drawn = start.elapsed() - laid_out;
        svg_bytes = svg.len();
        if i >= 2 {
            layout_times.push(laid_out);
            svg_times.push(drawn);
        }
    }
    let (l50, l99) = percentiles(&mut layout_times);
    let (s50, s99) = percentiles(&mut svg_times);
    println!(
        "graph of {} steps: layout p50 {l50:.1} ms, p99 {l99:.1} ms; SVG p50 {s50:.1} ms, p99 {s99:.1} ms ({:.2} MB)",
        chains * length,
        svg_bytes as f64 / 1e6
    );

    // Throughput: `connections` clients asking for the first page, one request after
    // another, for `seconds`.
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(opts.seconds);
    let url = format!("{base}/api/v1/runs?limit=50");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        let (done, failed, url, key) = (done.clone(), failed.clone(), url.clone(), key.to_string());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let ok = match client.get(&url).bearer_auth(&key).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "throughput of GET /api/v1/runs?limit=50 with {} connections: {:.0} requests/s ({done} in {elapsed:.1} s, {} failed)",
        opts.connections,
        done as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    drop(server);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let mut xs: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let (p50, p99) = percentiles(&mut xs);
        assert!((p50 - 51.0).abs() < 1e-9 || (p50 - 50.0).abs() < 1e-9);
        assert!((p99 - 99.0).abs() < 1e-9 || (p99 - 100.0).abs() < 1e-9);
    }
}
