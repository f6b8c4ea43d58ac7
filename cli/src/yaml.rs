//! Pipeline YAML files: reading one into a `PipelineSpec`, and pointing at the line a
//! problem is on (`pipeline.yaml:12:7: …`).

use weir_api::FieldError;
use weir_api::pipelines::PipelineSpec;

/// A problem in a pipeline file, with where it is when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlProblem {
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
    /// The field it concerns (`steps.train.inputs.dataset.from`), for checks.
    pub field: Option<String>,
    pub message: String,
}

impl YamlProblem {
    /// `FILE:LINE:COLUMN: field: message`, leaving out what is unknown.
    pub fn display(&self, file: &str) -> String {
        let mut text = file.to_string();
        if let Some(line) = self.line {
            text.push_str(&format!(":{line}"));
            if let Some(column) = self.column {
                text.push_str(&format!(":{column}"));
            }
        }
        text.push_str(": ");
        if let Some(field) = &self.field {
            text.push_str(field);
            text.push_str(": ");
        }
        text.push_str(&self.message);
        text
    }
}

/// Reads a pipeline file's text into a spec; a syntax or shape error is located.
pub fn parse(text: &str) -> Result<PipelineSpec, YamlProblem> {
    serde_norway::from_str::<PipelineSpec>(text).map_err(|e| {
        let location = e.location();
        let mut message = e.to_string();
        // The position is shown in front; drop serde's own copy at the end.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        YamlProblem {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            field: None,
            message,
        }
    })
}

/// Every problem the checks of the spec find, each with the line it is on when found.
pub fn check(text: &str, spec: &PipelineSpec) -> Vec<YamlProblem> {
    match spec.validate() {
        Ok(()) => vec![],
        Err(fields) => locate_fields(text, &fields),
    }
}

/// Field errors (ours or the server's 422) with the lines they point at.
pub fn locate_fields(text: &str, fields: &[FieldError]) -> Vec<YamlProblem> {
    fields
        .iter()
        .map(|f| {
            let field = f.field.strip_prefix("spec.").unwrap_or(&f.field);
            YamlProblem {
                line: locate(text, field),
                column: None,
                field: Some(field.to_string()),
                message: f.message.clone(),
            }
        })
        .collect()
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    /// `steps[2]`: the third item of a list.
    Index(usize),
    /// `steps.train`: the step item whose `name` is this.
    Step(String),
}

fn segments(field: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut after_steps = false;
    for part in field.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if after_steps && index.is_none() && !key.is_empty() {
            out.push(Segment::Step(key.to_string()));
            after_steps = false;
            continue;
        }
        if !key.is_empty() {
            out.push(Segment::Key(key.to_string()));
        }
        after_steps = out.len() == 1 && key == "steps" && index.is_none();
        if let Some(index) = index {
            out.push(Segment::Index(index));
        }
    }
    out
}

/// A line's shape: where its key starts, the key, the rest, and whether it starts a
/// list item.
struct Line<'a> {
    key_column: usize,
    key: Option<&'a str>,
    value: &'a str,
    item: bool,
}

fn shape(line: &str) -> Option<Line<'_>> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let mut column = line.len() - trimmed.len();
    let mut rest = trimmed;
    let mut item = false;
    while let Some(after) = rest
        .strip_prefix('-')
        .filter(|a| a.is_empty() || a.starts_with(' '))
    {
        item = true;
        let inner = after.trim_start();
        column += rest.len() - inner.len();
        rest = inner;
    }
    let (key, value) = match rest.split_once(':') {
        Some((key, value)) if value.is_empty() || value.starts_with(' ') => {
            (Some(unquote(key.trim())), value.trim())
        }
        _ => (None, rest),
    };
    Some(Line {
        key_column: column,
        key,
        value,
        item,
    })
}

fn unquote(text: &str) -> &str {
    text.trim_matches(|c| c == '"' || c == '\'')
}

/// The 1-based line a field path points at in a pipeline file: its deepest part that
/// can be found (`dataset: {from: …}` for `inputs.dataset.from`).
pub fn locate(text: &str, field: &str) -> Option<usize> {
    let lines: Vec<Option<Line<'_>>> = text.lines().map(shape).collect();
    let mut from = 0;
    let mut until = lines.len();
    let mut found = None;
    for segment in segments(field) {
        let hit = (from..until).find(|&i| {
            let Some(line) = &lines[i] else { return false };
            match &segment {
                Segment::Key(key) => line.key == Some(key.as_str()),
                Segment::Step(name) => line.key == Some("name") && unquote(line.value) == name,
                Segment::Index(_) => false,
            }
        });
        let hit = match (&segment, hit) {
            (Segment::Index(index), _) => nth_item(&lines, from, until, *index),
            (_, hit) => hit,
        };
        let Some(at) = hit else { break };
        found = Some(at);
        let Some(line) = &lines[at] else { break };
        let column = line.key_column;
        // A list item's block holds its sibling keys (same column); a key's block only
        // what is indented deeper.
        let in_item = matches!(segment, Segment::Step(_) | Segment::Index(_));
        from = at + 1;
        until = (from..until)
            .find(|&i| match &lines[i] {
                None => false,
                Some(l) if in_item => l.key_column < column || (l.item && l.key_column <= column),
                Some(l) => l.key_column <= column,
            })
            .unwrap_or(until);
    }
    found.map(|i| i + 1)
}

/// The line of the `index`th item of the first list in the range.
fn nth_item(lines: &[Option<Line<'_>>], from: usize, until: usize, index: usize) -> Option<usize> {
    let column = (from..until)
        .filter_map(|i| lines[i].as_ref().filter(|l| l.item).map(|l| l.key_column))
        .next()?;
    (from..until)
        .filter(|&i| {
            lines[i]
                .as_ref()
                .is_some_and(|l| l.item && l.key_column == column)
        })
        .nth(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIPELINE: &str = "\
name: train-and-evaluate
parameters:                       # JSON Schema per parameter
  learning_rate: {type: number, default: 0.1}
steps:
  - name: load
    command: [\"python3\", \"load.py\"]
    outputs: {dataset: {type: file}}
  - name: train
    command: [\"python3\", \"train.py\"]
    inputs:
      dataset: {from: load.dataset}
      learning_rate: {param: learning_rate}
    outputs: {model: {type: file}}
    settings: {retries: 1, enable_cache: true, timeout: 600}
  - name: evaluate
    command: [python3, evaluate.py]
    inputs:
      model:
        from: train.model
      k: {value: 3}
";

    #[test]
    fn the_design_example_reads_into_a_spec() {
        let spec = parse(PIPELINE).expect("parses");
        assert_eq!(spec.name, "train-and-evaluate");
        assert_eq!(spec.steps.len(), 3);
        let train = spec.step("train").expect("train");
        assert_eq!(train.command, vec!["python3", "train.py"]);
        assert_eq!(
            train.inputs["dataset"].from.as_deref(),
            Some("load.dataset")
        );
        assert_eq!(train.settings.retries, 1);
        assert_eq!(train.settings.timeout, Some(600));
        assert_eq!(
            spec.parameters["learning_rate"]["default"],
            serde_json::json!(0.1)
        );
        let evaluate = spec.step("evaluate").expect("evaluate");
        assert_eq!(evaluate.inputs["k"].value, Some(serde_json::json!(3)));
        assert!(check(PIPELINE, &spec).is_empty());
    }

    #[test]
    fn a_misspelt_key_is_named_with_its_line_and_column() {
        let text = "name: p\nsteps:\n  - name: a\n    comand: [x]\n";
        let problem = parse(text).expect_err("unknown key");
        assert_eq!(problem.line, Some(4), "{problem:?}");
        assert_eq!(problem.column, Some(5), "{problem:?}");
        assert!(problem.message.contains("comand"), "{problem:?}");
        assert!(!problem.message.contains(" at line "), "{problem:?}");
        let shown = problem.display("pipeline.yaml");
        assert!(shown.starts_with("pipeline.yaml:4:5: "), "{shown}");
    }

    #[test]
    fn broken_syntax_and_wrong_types_are_located() {
        let problem = parse("name: p\nsteps:\n  - name: a\n   command: [x\n").expect_err("syntax");
        assert!(problem.line.is_some(), "{problem:?}");
        let problem =
            parse("name: p\nsteps:\n  - name: a\n    command: python3 a.py\n").expect_err("type");
        assert_eq!(problem.line, Some(4), "{problem:?}");
        assert!(problem.message.contains("sequence"), "{problem:?}");
    }

    #[test]
    fn a_model_is_named_briefly_or_with_a_version() {
        let short = parse("name: p\nmodel: iris\nsteps: []\n").expect("short");
        assert_eq!(short.model.as_ref().map(|m| m.name.as_str()), Some("iris"));
        let full = parse(
            "name: p\nmodel: {name: iris, version: nightly}\nsteps:\n  - name: a\n    \
             command: [\"true\"]\n    outputs: {m: {kind: model}}\n",
        )
        .expect("full");
        let model = full.model.expect("model");
        assert_eq!(model.reused_version(), Some("nightly"));
        assert_eq!(
            full.steps[0].outputs["m"].kind,
            weir_api::models::ArtifactKind::Model
        );
        let bad = parse("name: p\nmodel: {name: iris, stage: x}\nsteps: []\n").expect_err("bad");
        assert_eq!(bad.line, Some(2));
    }

    #[test]
    fn field_paths_point_at_their_lines() {
        assert_eq!(locate(PIPELINE, "name"), Some(1));
        assert_eq!(locate(PIPELINE, "parameters.learning_rate"), Some(3));
        assert_eq!(locate(PIPELINE, "steps.train"), Some(8));
        assert_eq!(
            locate(PIPELINE, "steps.train.inputs.dataset.from"),
            Some(11)
        );
        assert_eq!(locate(PIPELINE, "steps.train.settings.timeout"), Some(14));
        assert_eq!(
            locate(PIPELINE, "steps.evaluate.inputs.model.from"),
            Some(19)
        );
        assert_eq!(locate(PIPELINE, "steps[1].name"), Some(8));
        assert_eq!(locate(PIPELINE, "steps[2]"), Some(15));
        // `load` has no inputs: the step's own line, not the next step's inputs.
        assert_eq!(locate(PIPELINE, "steps.load.inputs.x"), Some(5));
        assert_eq!(locate(PIPELINE, "nowhere"), None);
    }

    #[test]
    fn invalid_specs_are_reported_per_field_with_lines() {
        let text = PIPELINE.replace("from: load.dataset", "from: lod.dataset");
        let spec = parse(&text).expect("parses");
        let problems = check(&text, &spec);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].field.as_deref(),
            Some("steps.train.inputs.dataset.from")
        );
        assert_eq!(problems[0].line, Some(11));
        assert_eq!(
            problems[0].display("p.yaml"),
            "p.yaml:11: steps.train.inputs.dataset.from: step `lod` does not exist"
        );
        // The server's 422 names fields of the request: `spec.` is dropped.
        let server = locate_fields(&text, &[FieldError::new("spec.steps.evaluate", "x")]);
        assert_eq!(server[0].line, Some(15));
    }
}
