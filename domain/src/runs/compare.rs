//! Runs side by side: parameters, metadata and step states of two runs or more of one
//! pipeline, with what differs marked.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::FieldError;
use weir_api::runs::{
    ComparedStep, ComparedValue, MAX_COMPARED_KEYS, MAX_COMPARED_RUNS, MAX_COMPARED_STEPS, Run,
    RunComparison,
};

use super::{get_run, status};
use crate::identity::Principal;
use crate::{DomainError, Result};

/// Compares the runs named by id or name (duplicates count once). Each must be one the
/// actor may read, and all of one pipeline: 422 otherwise, naming the `run`.
pub async fn compare_runs(
    pool: &PgPool,
    actor: &Principal,
    refs: &[String],
) -> Result<RunComparison> {
    let mut names: Vec<&str> = Vec::new();
    for r in refs.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        if !names.contains(&r) {
            names.push(r);
        }
    }
    if names.len() < 2 || names.len() > MAX_COMPARED_RUNS {
        return Err(DomainError::Validation(vec![FieldError::new(
            "run",
            format!("choose between 2 and {MAX_COMPARED_RUNS} runs to compare"),
        )]));
    }
    let mut runs: Vec<Run> = Vec::with_capacity(names.len());
    let mut problems = Vec::new();
    for name in &names {
        match get_run(pool, actor, name).await {
            Ok(run) => runs.push(run),
            Err(DomainError::NotFound) => {
                problems.push(FieldError::new("run", format!("no such run: {name}")))
            }
            Err(error) => return Err(error),
        }
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let mut seen = std::collections::HashSet::new();
    runs.retain(|r| seen.insert(r.id));
    if runs.len() < 2 {
        return Err(DomainError::Validation(vec![FieldError::new(
            "run",
            "choose two different runs or more",
        )]));
    }
    let pipeline = runs[0].pipeline.clone();
    if let Some(other) = runs.iter().find(|r| r.pipeline != pipeline) {
        return Err(DomainError::Validation(vec![FieldError::new(
            "run",
            format!(
                "runs of one pipeline only: {} is a run of {pipeline}, {} of {}",
                runs[0].name, other.name, other.pipeline
            ),
        )]));
    }
    // Oldest first, so a chart across them reads left to right in time.
    runs.sort_by_key(|r| (r.created_at, r.id));
    let ids: Vec<Uuid> = runs.iter().map(|r| r.id).collect();
    let index: HashMap<Uuid, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let n = runs.len();

    let mut keys: Vec<&str> = Vec::new();
    for run in &runs {
        for key in run.parameters.keys() {
            if !keys.contains(&key.as_str()) {
                keys.push(key);
            }
        }
    }
    let parameters = keys
        .iter()
        .map(|key| {
            compared(
                key.to_string(),
                None,
                runs.iter()
                    .map(|r| r.parameters.get(*key).cloned())
                    .collect(),
            )
        })
        .collect();

    // The newest value of each (step, key) per run.
    let rows: Vec<(Uuid, Option<String>, String, Value)> = sqlx::query_as(
        "select distinct on (m.run_id, s.name, m.key) m.run_id, s.name, m.key, m.value
           from run_metadata m left join step_run s on s.id = m.step_run_id
          where m.run_id = any($1) and m.artifact_version_id is null
          order by m.run_id, s.name nulls first, m.key, m.id desc
          limit 50000",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut by_key: BTreeMap<(Option<String>, String), Vec<Option<Value>>> = BTreeMap::new();
    for (run, step, key, value) in rows {
        let slot = by_key.entry((step, key)).or_insert_with(|| vec![None; n]);
        slot[index[&run]] = Some(value);
    }
    let more_metadata = by_key.len() > MAX_COMPARED_KEYS;
    let metadata = by_key
        .into_iter()
        .take(MAX_COMPARED_KEYS)
        .map(|((step, key), values)| compared(key, step, values))
        .collect();

    type StepRow = (
        Uuid,
        String,
        i32,
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<StepRow> = sqlx::query_as(
        "select run_id, name, position, status, started_at, finished_at
           from step_run where run_id = any($1) order by position, name",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut order: Vec<String> = Vec::new();
    let mut steps: HashMap<String, ComparedStep> = HashMap::new();
    for (run, name, _, state, started, finished) in rows {
        let entry = steps.entry(name.clone()).or_insert_with(|| {
            order.push(name.clone());
            ComparedStep {
                name,
                statuses: vec![None; n],
                durations_ms: vec![None; n],
                differs: false,
            }
        });
        let i = index[&run];
        entry.statuses[i] = Some(status(&state));
        entry.durations_ms[i] = match (started, finished) {
            (Some(s), Some(f)) => Some((f - s).num_milliseconds().max(0)),
            _ => None,
        };
    }
    let more_steps = order.len() > MAX_COMPARED_STEPS;
    let steps = order
        .into_iter()
        .take(MAX_COMPARED_STEPS)
        .filter_map(|name| steps.remove(&name))
        .map(|mut step| {
            step.differs = step.statuses.windows(2).any(|w| w[0] != w[1]);
            step
        })
        .collect();
    Ok(RunComparison {
        runs,
        parameters,
        metadata,
        more_metadata,
        steps,
        more_steps,
    })
}

fn compared(key: String, step: Option<String>, values: Vec<Option<Value>>) -> ComparedValue {
    let differs = values.windows(2).any(|w| w[0] != w[1]);
    ComparedValue {
        key,
        step,
        values,
        differs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_differs_when_any_run_has_another_or_none() {
        let same = compared(
            "k".into(),
            None,
            vec![Some(Value::from(1)), Some(Value::from(1))],
        );
        assert!(!same.differs);
        let other = compared(
            "k".into(),
            None,
            vec![Some(Value::from(1)), Some(Value::from(2))],
        );
        assert!(other.differs);
        let missing = compared("k".into(), None, vec![Some(Value::from(1)), None]);
        assert!(missing.differs);
    }
}
