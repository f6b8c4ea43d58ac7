//! The iris classifier as a Rust pipeline: load the iris flowers shipped with smartcore,
//! split them, train a random forest, evaluate it on the held-out flowers. Each step
//! runs in its own process; Weir stores every output as a versioned artifact, logs the
//! accuracy as metadata and reuses unchanged steps from the cache. Each run makes a new
//! version of the model `iris-forest` (`weir model describe iris-forest`), with the
//! trained forest linked to it and the accuracy logged on it.
//!
//!     weir login http://127.0.0.1:8080
//!     cargo run -p weir-example-iris -- --param trees=50
//!
//! The confusion matrix shows how to give a type its own file format: it is stored as
//! CSV (any tool can read it) with a table and a markdown summary for the dashboard.

use std::io::{Read, Write};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use weir::{MaterializeError, Materializer, Visualization, pipeline, step};

/// Flowers: four measurements each (cm) and the species, as an index into `species`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Flowers {
    measurements: Vec<[f64; 4]>,
    labels: Vec<u32>,
    feature_names: Vec<String>,
    species: Vec<String>,
}

type Forest = RandomForestClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

/// A trained classifier and the names of what it predicts.
#[derive(Debug, Serialize, Deserialize)]
struct Classifier {
    forest: Forest,
    species: Vec<String>,
}

/// Counts of (true species, predicted species).
#[derive(Debug, Clone, PartialEq)]
struct ConfusionMatrix {
    species: Vec<String>,
    counts: Vec<Vec<u32>>,
}

impl ConfusionMatrix {
    fn csv(&self) -> String {
        let mut text = format!("true \\ predicted,{}\n", self.species.join(","));
        for (name, row) in self.species.iter().zip(&self.counts) {
            let cells: Vec<String> = row.iter().map(u32::to_string).collect();
            text.push_str(&format!("{name},{}\n", cells.join(",")));
        }
        text
    }
}

/// Stored as CSV with a header row and a label column, so any tool can read it.
impl Materializer for ConfusionMatrix {
    const NAME: &'static str = "confusion-matrix-csv";

    fn save(&self, writer: &mut dyn Write) -> Result<(), MaterializeError> {
        writer.write_all(self.csv().as_bytes())?;
        Ok(())
    }

    fn load(reader: &mut dyn Read) -> Result<Self, MaterializeError> {
        let mut text = String::new();
        reader.read_to_string(&mut text)?;
        let mut lines = text.lines();
        let header = lines.next().ok_or("an empty confusion matrix")?;
        let species: Vec<String> = header.split(',').skip(1).map(str::to_owned).collect();
        let counts = lines
            .map(|line| {
                line.split(',')
                    .skip(1)
                    .map(str::parse::<u32>)
                    .collect::<Result<Vec<u32>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { species, counts })
    }

    fn visualizations(&self) -> Vec<Visualization> {
        let total: u32 = self.counts.iter().flatten().sum();
        let right: u32 = (0..self.counts.len()).map(|i| self.counts[i][i]).sum();
        vec![
            Visualization::csv(self.csv()),
            Visualization::markdown(format!(
                "**{right} of {total}** test flowers classified correctly."
            )),
        ]
    }
}

/// The 150 iris flowers of Fisher's data set.
#[step]
fn load_flowers() -> Result<Flowers, String> {
    let data = smartcore::dataset::iris::load_dataset();
    let measurements = data
        .data
        .chunks(data.num_features)
        .map(|row| [row[0], row[1], row[2], row[3]].map(f64::from))
        .collect::<Vec<_>>();
    println!("loaded {} flowers", measurements.len());
    weir::log_metadata("flowers", measurements.len()).map_err(|e| e.to_string())?;
    Ok(Flowers {
        measurements,
        labels: data.target,
        feature_names: data.feature_names,
        species: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
    })
}

/// Shuffles the flowers (seeded) and holds `test_fraction` of them out.
#[step(outputs(train, test))]
fn split(flowers: Flowers, test_fraction: f64, seed: u64) -> Result<(Flowers, Flowers), String> {
    if !(0.05..=0.9).contains(&test_fraction) {
        return Err(format!(
            "test_fraction must be between 0.05 and 0.9, not {test_fraction}"
        ));
    }
    let mut order: Vec<usize> = (0..flowers.labels.len()).collect();
    let mut state = seed;
    // Fisher–Yates with SplitMix64: the same seed gives the same split everywhere.
    for i in (1..order.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        order.swap(i, (z % (i as u64 + 1)) as usize);
    }
    let held_out = ((flowers.labels.len() as f64) * test_fraction).round() as usize;
    let pick = |indices: &[usize]| Flowers {
        measurements: indices.iter().map(|&i| flowers.measurements[i]).collect(),
        labels: indices.iter().map(|&i| flowers.labels[i]).collect(),
        feature_names: flowers.feature_names.clone(),
        species: flowers.species.clone(),
    };
    let (test, train) = order.split_at(held_out);
    println!(
        "{} flowers to train on, {} to test",
        train.len(),
        test.len()
    );
    Ok((pick(train), pick(test)))
}

fn matrix(flowers: &Flowers) -> Result<DenseMatrix<f64>, String> {
    let rows: Vec<Vec<f64>> = flowers.measurements.iter().map(|m| m.to_vec()).collect();
    DenseMatrix::from_2d_vec(&rows).map_err(|e| e.to_string())
}

/// A random forest of `trees` trees.
#[step(retries = 1, timeout = "10m", output_kind = "model")]
fn train(train: Flowers, trees: u16, seed: u64) -> Result<Classifier, String> {
    let parameters = RandomForestClassifierParameters::default()
        .with_n_trees(trees)
        .with_seed(seed);
    let forest =
        Forest::fit(&matrix(&train)?, &train.labels, parameters).map_err(|e| e.to_string())?;
    println!("trained {trees} trees on {} flowers", train.labels.len());
    weir::log_artifact_metadata("output", "trees", trees).map_err(|e| e.to_string())?;
    Ok(Classifier {
        forest,
        species: train.species,
    })
}

/// Accuracy and confusion matrix on the held-out flowers.
#[step(outputs(accuracy, confusion))]
fn evaluate(model: Classifier, test: Flowers) -> Result<(f64, ConfusionMatrix), String> {
    let predicted = model
        .forest
        .predict(&matrix(&test)?)
        .map_err(|e| e.to_string())?;
    let classes = model.species.len();
    let mut counts = vec![vec![0u32; classes]; classes];
    for (truth, guess) in test.labels.iter().zip(&predicted) {
        counts[*truth as usize][*guess as usize] += 1;
    }
    let right = (0..classes).map(|i| counts[i][i]).sum::<u32>();
    let accuracy = f64::from(right) / test.labels.len() as f64;
    println!("accuracy {accuracy:.3} ({right} of {})", test.labels.len());
    weir::log_metadata("accuracy", accuracy).map_err(|e| e.to_string())?;
    weir::log_model_metadata("accuracy", accuracy).map_err(|e| e.to_string())?;
    Ok((
        accuracy,
        ConfusionMatrix {
            species: model.species,
            counts,
        },
    ))
}

/// Classifies iris flowers with a random forest.
#[pipeline(name = "iris-rust", model = "iris-forest")]
fn iris(#[default(0.3)] test_fraction: f64, #[default(7)] seed: u64, #[default(25)] trees: u16) {
    let flowers = load_flowers();
    let (train_set, test_set) = split(flowers, test_fraction, seed);
    let model = train(train_set, trees, seed);
    evaluate(model, test_set);
}

fn main() -> ExitCode {
    weir::main(iris)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_seeded_and_holds_out_the_fraction() {
        let flowers = load_flowers::call().expect("flowers");
        assert_eq!(flowers.labels.len(), 150);
        let (train, test) = split::call(flowers.clone(), 0.3, 7).expect("split");
        assert_eq!((train.labels.len(), test.labels.len()), (105, 45));
        let (again, _) = split::call(flowers, 0.3, 7).expect("split");
        assert_eq!(train.labels, again.labels);
    }

    #[test]
    fn the_confusion_matrix_round_trips_through_its_csv() {
        let matrix = ConfusionMatrix {
            species: vec!["a".into(), "b".into()],
            counts: vec![vec![3, 1], vec![0, 4]],
        };
        let mut bytes = Vec::new();
        matrix.save(&mut bytes).expect("save");
        assert!(String::from_utf8_lossy(&bytes).starts_with("true \\ predicted,a,b\n"));
        let back = ConfusionMatrix::load(&mut bytes.as_slice()).expect("load");
        assert_eq!(back, matrix);
        let views = matrix.visualizations();
        assert!(String::from_utf8_lossy(&views[1].content).contains("7 of 8"));
    }

    #[test]
    fn the_pipeline_has_four_steps_and_its_parameters() {
        let graph = weir::PipelineGraph::build(&iris).expect("graph");
        graph.spec.validate().expect("valid");
        let names: Vec<&str> = graph.spec.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["load_flowers", "split", "train", "evaluate"]);
        assert_eq!(graph.spec.parameters["trees"]["default"], 25);
        assert_eq!(
            graph.spec.step("evaluate").expect("evaluate").inputs["model"]
                .from
                .as_deref(),
            Some("train.output")
        );
    }
}
