//! `weir-bench seed`: fills a migrated Weir database with many runs, as a server that
//! has been used for a long time would hold them, and with one large run.
//!
//! - `--pipelines` pipelines (`PREFIX-pipeline-NN`), each a chain of
//!   `--steps-per-run` command steps (`step_01` → `step_02` → …), one snapshot each;
//! - `--runs` runs spread over the last year (`PREFIX-run-NNNNNN`), most completed,
//!   one in 23 failed at its seventh step (the rest skipped), one in 53 stopped (23 and
//!   53 share no factor with the number of pipelines, so every pipeline has some); tags,
//!   parameters, an `accuracy` metric per run; a step run for every step;
//! - with `--big-run CxL`, one run of a pipeline of C chains of L steps each
//!   (`cNN_sNNN`, each reading the output of the step before it), with an artifact
//!   version per output, inputs linked, a log line per step, and one chain failed half
//!   way.
//!
//! Rows go in with `insert … select` over `generate_series`, a batch of runs at a time.
//! The specs are real `PipelineSpec`s, checked by the same validation as the server's.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::pipelines::{Entrypoint, InputSpec, OutputSpec, PipelineSpec, StepSpec};

/// What to seed.
#[derive(Debug, Clone)]
pub struct Options {
    pub database_url: String,
    /// The user the runs belong to; the first administrator when `None`.
    pub owner: Option<String>,
    pub prefix: String,
    pub pipelines: u32,
    pub runs: u32,
    pub steps_per_run: u32,
    /// Chains × length of the large run.
    pub big_run: Option<(u32, u32)>,
}

/// `50x100` → (50, 100).
pub fn parse_shape(text: &str) -> anyhow::Result<(u32, u32)> {
    let (chains, length) = text
        .split_once(['x', 'X'])
        .context("--big-run takes CHAINSxLENGTH, e.g. 50x100")?;
    let chains: u32 = chains.trim().parse().context("--big-run: chains")?;
    let length: u32 = length.trim().parse().context("--big-run: length")?;
    if chains == 0 || length == 0 || u64::from(chains) * u64::from(length) > 10_000 {
        bail!("--big-run: between 1 and 10,000 steps in all");
    }
    Ok((chains, length))
}

/// A chain of steps `names[0] → names[1] → …`, each with one `out` and (but the first)
/// one `in` from the step before.
fn chain_steps(names: &[String]) -> Vec<StepSpec> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut inputs = BTreeMap::new();
            if i > 0 {
                inputs.insert(
                    "in".to_string(),
                    InputSpec {
                        from: Some(format!("{}.out", names[i - 1])),
                        ..InputSpec::default()
                    },
                );
            }
            let command = if i == 0 {
                vec![
                    "sh".into(),
                    "-c".into(),
                    "echo 1 > \"$WEIR_OUTPUT_OUT\"".into(),
                ]
            } else {
                vec![
                    "sh".into(),
                    "-c".into(),
                    "cat \"$WEIR_INPUT_IN\" > \"$WEIR_OUTPUT_OUT\"".into(),
                ]
            };
            StepSpec {
                name: name.clone(),
                command,
                function: None,
                code_hash: None,
                sources: Vec::new(),
                inputs,
                outputs: BTreeMap::from([("out".to_string(), OutputSpec::default())]),
                settings: Default::default(),
            }
        })
        .collect()
}

fn spec(name: &str, description: &str, steps: Vec<StepSpec>) -> anyhow::Result<PipelineSpec> {
    let mut parameters = serde_json::Map::new();
    parameters.insert(
        "learning_rate".into(),
        serde_json::json!({"type": "number", "default": 0.01}),
    );
    parameters.insert(
        "epochs".into(),
        serde_json::json!({"type": "integer", "default": 3}),
    );
    let spec = PipelineSpec {
        name: name.to_string(),
        description: description.to_string(),
        parameters,
        model: None,
        steps,
    };
    if let Err(problems) = spec.validate() {
        bail!("seeded spec {name} is invalid: {problems:?}");
    }
    Ok(spec)
}

/// Inserts a pipeline and its one snapshot; answers (pipeline id, snapshot id).
async fn insert_pipeline(
    db: &PgPool,
    owner: Uuid,
    spec: &PipelineSpec,
) -> anyhow::Result<(Uuid, Uuid)> {
    let entrypoint = Entrypoint {
        working_dir: Some("/tmp".into()),
        binary: None,
        image: None,
    };
    let pipeline = Uuid::new_v4();
    let snapshot = Uuid::new_v4();
    let inserted = sqlx::query(
        "insert into pipeline (id, name, description, owner_id, latest_version)
         values ($1, $2, $3, $4, 1) on conflict do nothing",
    )
    .bind(pipeline)
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(owner)
    .execute(db)
    .await?;
    if inserted.rows_affected() == 0 {
        bail!(
            "a pipeline named {} exists already: seed another --prefix or a fresh database",
            spec.name
        );
    }
    // The spec travels as text into a `json` column, keeping its order (as the server
    // stores it).
    sqlx::query(
        "insert into snapshot (id, pipeline_id, version, content_hash, spec, parameter_schema,
                               entrypoint, created_by)
         values ($1, $2, 1, $3, $4::text::json, $5::text::json, $6, $7)",
    )
    .bind(snapshot)
    .bind(pipeline)
    .bind(spec.content_hash(&entrypoint))
    .bind(serde_json::to_string(spec)?)
    .bind(spec.parameter_schema().to_string())
    .bind(serde_json::to_value(&entrypoint)?)
    .bind(owner)
    .execute(db)
    .await?;
    Ok((pipeline, snapshot))
}

/// What was seeded: the large run's name, if one was asked for.
pub struct Seeded {
    pub big_run: Option<String>,
}

pub async fn run(options: &Options) -> anyhow::Result<Seeded> {
    if options.pipelines == 0 && options.runs > 0 {
        bail!("--pipelines must be at least 1 when seeding runs");
    }
    if !(2..=99).contains(&options.steps_per_run) {
        bail!("--steps-per-run must be between 2 and 99");
    }
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&options.database_url)
        .await
        .context("connecting to the database")?;
    let owner: Option<(Uuid,)> = match &options.owner {
        Some(name) => {
            sqlx::query_as("select id from app_user where lower(name) = lower($1)")
                .bind(name)
                .fetch_optional(&db)
                .await?
        }
        None => {
            sqlx::query_as(
                "select id from app_user where is_admin and active order by created_at limit 1",
            )
            .fetch_optional(&db)
            .await?
        }
    };
    let Some((owner,)) = owner else {
        bail!("no such user to own the runs: start weir-server once on this database first");
    };
    let stack: Option<(Uuid, String)> =
        sqlx::query_as("select id, name from stack where is_default limit 1")
            .fetch_optional(&db)
            .await?;
    let (stack_id, stack_name) = match stack {
        Some((id, name)) => (Some(id), name),
        None => (None, "default".to_string()),
    };

    let started = Instant::now();
    let mut pipelines = Vec::new();
    if options.runs > 0 {
        let names: Vec<String> = (1..=options.steps_per_run)
            .map(|i| format!("step_{i:02}"))
            .collect();
        for p in 1..=options.pipelines {
            let spec = spec(
                &format!("{}-pipeline-{p:02}", options.prefix),
                "A seeded chain of trivial steps.",
                chain_steps(&names),
            )?;
            pipelines.push(insert_pipeline(&db, owner, &spec).await?);
        }
        seed_runs(&db, options, owner, stack_id, &stack_name, &pipelines).await?;
        eprintln!(
            "seeded {} pipelines, {} runs and {} step runs in {:.1} s",
            options.pipelines,
            options.runs,
            u64::from(options.runs) * u64::from(options.steps_per_run),
            started.elapsed().as_secs_f64()
        );
    }
    let big_run = match options.big_run {
        Some(shape) => {
            let started = Instant::now();
            let name = seed_big_run(&db, options, owner, stack_id, &stack_name, shape).await?;
            eprintln!(
                "seeded the run {name} of {} steps in {:.1} s",
                shape.0 * shape.1,
                started.elapsed().as_secs_f64()
            );
            Some(name)
        }
        None => None,
    };
    // As the server does when a run ends: its step runs per status are kept with it.
    sqlx::query(
        r#"update pipeline_run r
              set step_counts = coalesce((select jsonb_object_agg(c.status, c.n)
                                            from (select status, count(*) as n from step_run
                                                   where run_id = r.id group by status) c),
                                         '{}'::jsonb)
            where r.finished_at is not null and r.step_counts is null
              and r.name like $1 || '-%'"#,
    )
    .bind(&options.prefix)
    .execute(&db)
    .await?;
    sqlx::query("vacuum analyze").execute(&db).await?;
    Ok(Seeded { big_run })
}

/// Runs a batch at a time: `pipeline_run`, then `step_run` and `run_metadata` of the
/// batch's runs.
async fn seed_runs(
    db: &PgPool,
    options: &Options,
    owner: Uuid,
    stack_id: Option<Uuid>,
    stack_name: &str,
    pipelines: &[(Uuid, Uuid)],
) -> anyhow::Result<()> {
    const BATCH: u32 = 10_000;
    let pipeline_ids: Vec<Uuid> = pipelines.iter().map(|p| p.0).collect();
    let snapshot_ids: Vec<Uuid> = pipelines.iter().map(|p| p.1).collect();
    let steps = options.steps_per_run as i32;
    let mut from = 1u32;
    while from <= options.runs {
        let to = (from + BATCH - 1).min(options.runs);
        let mut tx = db.begin().await?;
        // Run i: created (i × a year / runs) ago, so run 1 is the newest.
        sqlx::query(
            r#"insert into pipeline_run (id, name, pipeline_id, snapshot_id, stack_id, stack_name,
                   status, status_reason, trigger, author_id, tags, parameters,
                   created_at, started_at, finished_at, heartbeat_at, updated_at)
               select gen_random_uuid(), $1 || '-run-' || lpad(i::text, 6, '0'),
                      ($2::uuid[])[1 + i % cardinality($2::uuid[])],
                      ($3::uuid[])[1 + i % cardinality($3::uuid[])],
                      $4, $5,
                      case when i % 23 = 0 then 'failed' when i % 53 = 1 then 'stopped'
                           else 'completed' end,
                      case when i % 23 = 0 then 'step step_07 failed: exit code 1'
                           when i % 53 = 1 then 'stopped by seed' end,
                      (array['cli', 'sdk', 'dashboard', 'schedule'])[1 + i % 4],
                      $6,
                      case when i % 10 = 0 then array['nightly', 'gpu']
                           when i % 3 = 0 then array['nightly'] else '{}'::text[] end,
                      jsonb_build_object('learning_rate', 0.001 * (1 + i % 10),
                                         'epochs', 1 + i % 5),
                      at, at + interval '1 second',
                      at + interval '1 second' + (30 + i % 270) * interval '1 second',
                      at + interval '1 second' + (30 + i % 270) * interval '1 second',
                      at + interval '1 second' + (30 + i % 270) * interval '1 second'
                 from generate_series($7::int, $8::int) as i,
                      lateral (select now() - i * ($9::float8 * interval '1 second')) as t(at)"#,
        )
        .bind(&options.prefix)
        .bind(&pipeline_ids)
        .bind(&snapshot_ids)
        .bind(stack_id)
        .bind(stack_name)
        .bind(owner)
        .bind(from as i32)
        .bind(to as i32)
        .bind(365.0 * 86_400.0 / f64::from(options.runs))
        .execute(&mut *tx)
        .await?;
        // Step k of a run: completed, but the seventh of a failed run failed (the rest
        // skipped) and the fifth of a stopped run stopped (the rest skipped).
        sqlx::query(
            r#"insert into step_run (id, run_id, pipeline_id, name, position, status,
                   status_reason, attempt, max_attempts, exit_code, code_hash, upstream,
                   started_at, finished_at, updated_at)
               select gen_random_uuid(), r.id, r.pipeline_id, 'step_' || lpad(k::text, 2, '0'),
                      k - 1, s.status,
                      case s.status when 'failed' then 'exit code 1'
                                    when 'stopped' then 'stopped by seed' end,
                      case when s.status = 'skipped' then 0 else 1 end, 1,
                      case s.status when 'completed' then 0 when 'failed' then 1 end,
                      'sha256:seed',
                      case when k = 1 then '{}'::text[]
                           else array['step_' || lpad((k - 1)::text, 2, '0')] end,
                      case when s.status <> 'skipped'
                           then r.started_at + (k - 1) * step_len end,
                      case when s.status <> 'skipped' then r.started_at + k * step_len end,
                      r.updated_at
                 from pipeline_run r
                 cross join generate_series(1, $4::int) as k
                 cross join lateral (select (r.finished_at - r.started_at) / $4::int) as l(step_len)
                 cross join lateral (select case
                        when r.status = 'failed' and k = 7 then 'failed'
                        when r.status = 'failed' and k > 7 then 'skipped'
                        when r.status = 'stopped' and k = 5 then 'stopped'
                        when r.status = 'stopped' and k > 5 then 'skipped'
                        else 'completed' end) as s(status)
                where r.name >= $1 || '-run-' || lpad($2::text, 6, '0')
                  and r.name <= $1 || '-run-' || lpad($3::text, 6, '0')
                  and r.name like $1 || '-run-%'"#,
        )
        .bind(&options.prefix)
        .bind(from as i32)
        .bind(to as i32)
        .bind(steps)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            r#"insert into run_metadata (run_id, key, value, created_at)
               select r.id, 'accuracy',
                      to_jsonb(round((0.80 + (hashtext(r.name) & 1023) / 6000.0)::numeric, 4)),
                      r.finished_at
                 from pipeline_run r
                where r.name >= $1 || '-run-' || lpad($2::text, 6, '0')
                  and r.name <= $1 || '-run-' || lpad($3::text, 6, '0')
                  and r.name like $1 || '-run-%'
                  and r.status = 'completed'"#,
        )
        .bind(&options.prefix)
        .bind(from as i32)
        .bind(to as i32)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        eprintln!("  runs {from}–{to}");
        from = to + 1;
    }
    Ok(())
}

/// The large run: its pipeline, the run, a step run, an artifact version and a log line
/// per step, inputs linked. Chain 4 (or the last, when fewer) fails at its middle step;
/// what follows it in that chain is skipped.
async fn seed_big_run(
    db: &PgPool,
    options: &Options,
    owner: Uuid,
    stack_id: Option<Uuid>,
    stack_name: &str,
    (chains, length): (u32, u32),
) -> anyhow::Result<String> {
    let chain_width = (chains - 1).to_string().len().max(2);
    let step_width = (length - 1).to_string().len().max(3);
    let names: Vec<Vec<String>> = (0..chains)
        .map(|c| {
            (0..length)
                .map(|i| format!("c{c:0chain_width$}_s{i:0step_width$}"))
                .collect()
        })
        .collect();
    let steps: Vec<StepSpec> = names.iter().flat_map(|chain| chain_steps(chain)).collect();
    let pipeline_name = format!("{}-big-{chains}x{length}", options.prefix);
    let spec = spec(
        &pipeline_name,
        "A seeded pipeline of parallel chains, for large graphs.",
        steps,
    )?;
    let (pipeline, snapshot) = insert_pipeline(db, owner, &spec).await?;
    let run_name = format!("{}-big-run-{chains}x{length}", options.prefix);
    let run = Uuid::new_v4();
    let failing_chain = chains.min(4) - 1;
    let failing_step = length / 2;
    let mut tx = db.begin().await?;
    sqlx::query(
        r#"insert into pipeline_run (id, name, pipeline_id, snapshot_id, stack_id, stack_name,
               status, status_reason, trigger, author_id, tags, parameters,
               created_at, started_at, finished_at, heartbeat_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, 'failed', $7, 'cli', $8, array['large'],
                   '{"learning_rate": 0.01, "epochs": 3}',
                   now() - interval '2 hours', now() - interval '2 hours',
                   now() - interval '1 hour', now() - interval '1 hour', now())"#,
    )
    .bind(run)
    .bind(&run_name)
    .bind(pipeline)
    .bind(snapshot)
    .bind(stack_id)
    .bind(stack_name)
    .bind(format!(
        "step {} failed: exit code 1",
        names[failing_chain as usize][failing_step as usize]
    ))
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    // Step (c, i) runs in the hour of the run, chains side by side.
    sqlx::query(
        r#"insert into step_run (id, run_id, pipeline_id, name, position, status, status_reason,
               attempt, max_attempts, exit_code, code_hash, upstream, started_at, finished_at,
               updated_at)
           select gen_random_uuid(), $1, $2,
                  'c' || lpad(c::text, $5, '0') || '_s' || lpad(i::text, $6, '0'),
                  c * $4 + i, s.status,
                  case s.status when 'failed' then 'exit code 1' end,
                  case s.status when 'skipped' then 0 else 1 end, 1,
                  case s.status when 'completed' then 0 when 'failed' then 1 end,
                  'sha256:seed',
                  case when i = 0 then '{}'::text[]
                       else array['c' || lpad(c::text, $5, '0') || '_s' || lpad((i - 1)::text, $6, '0')] end,
                  case when s.status <> 'skipped'
                       then now() - interval '2 hours' + i * (interval '1 hour' / $4) end,
                  case when s.status <> 'skipped'
                       then now() - interval '2 hours' + (i + 1) * (interval '1 hour' / $4) end,
                  now()
             from generate_series(0, $3 - 1) as c
             cross join generate_series(0, $4 - 1) as i
             cross join lateral (select case
                    when c = $7 and i = $8 then 'failed'
                    when c = $7 and i > $8 then 'skipped'
                    else 'completed' end) as s(status)"#,
    )
    .bind(run)
    .bind(pipeline)
    .bind(chains as i32)
    .bind(length as i32)
    .bind(chain_width as i32)
    .bind(step_width as i32)
    .bind(failing_chain as i32)
    .bind(failing_step as i32)
    .execute(&mut *tx)
    .await?;
    // An artifact and its first version per completed step's output.
    sqlx::query(
        r#"with produced as (
               select s.id as step_id, s.name, s.finished_at,
                      gen_random_uuid() as artifact_id, gen_random_uuid() as version_id
                 from step_run s where s.run_id = $1 and s.status = 'completed'),
           artifacts as (
               insert into artifact (id, name, pipeline_id, latest_version, created_at, updated_at)
               select artifact_id, $3 || '.' || name || '.out', $2, 1, finished_at, finished_at
                 from produced),
           versions as (
               insert into artifact_version (id, artifact_id, version, uri, data_type,
                      materializer, content_hash, size, producer_step_run_id, run_id, created_at)
               select version_id, artifact_id, 1, 'seed://' || $3 || '/' || name || '/out', 'file',
                      'file', 'sha256:' || md5(name) || md5(name), 2, step_id, $1, finished_at
                 from produced)
           insert into step_run_output (step_run_id, name, artifact_version_id)
           select step_id, 'out', version_id from produced"#,
    )
    .bind(run)
    .bind(pipeline)
    .bind(&pipeline_name)
    .execute(&mut *tx)
    .await?;
    // Each step that ran read the output of the one before it.
    sqlx::query(
        r#"insert into step_run_input (step_run_id, name, artifact_version_id)
           select s.id, 'in', o.artifact_version_id
             from step_run s
             join step_run up on up.run_id = s.run_id and up.name = s.upstream[1]
             join step_run_output o on o.step_run_id = up.id
            where s.run_id = $1 and s.status <> 'skipped'"#,
    )
    .bind(run)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        r#"insert into log_chunk (run_id, step_name, attempt, lines, line_count, created_at)
           select s.run_id, s.name, 1,
                  jsonb_build_array(jsonb_build_object(
                      's', case s.status when 'failed' then 'stderr' else 'stdout' end,
                      't', to_char(s.finished_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                      'l', case s.status when 'failed' then s.name || ': no space left on device'
                                         else s.name || ': processed 1000 rows' end)),
                  1, s.finished_at
             from step_run s where s.run_id = $1 and s.status <> 'skipped'
            order by s.finished_at, s.position"#,
    )
    .bind(run)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(run_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_read_and_bounded() {
        assert_eq!(parse_shape("50x100").expect("valid"), (50, 100));
        assert_eq!(parse_shape("20X100").expect("valid"), (20, 100));
        assert!(parse_shape("100").is_err());
        assert!(parse_shape("0x5").is_err());
        assert!(parse_shape("200x100").is_err());
    }

    #[test]
    fn seeded_specs_pass_the_servers_validation() {
        let names: Vec<String> = (0..5).map(|i| format!("c00_s{i:03}")).collect();
        let spec = spec("seed-big-1x5", "", chain_steps(&names)).expect("valid");
        assert_eq!(spec.steps.len(), 5);
        assert!(spec.steps[0].inputs.is_empty());
        assert_eq!(
            spec.steps[4].inputs["in"].from.as_deref(),
            Some("c00_s003.out")
        );
    }
}
