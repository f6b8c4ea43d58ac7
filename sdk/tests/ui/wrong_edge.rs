use weir::{pipeline, step};

#[step]
fn load() -> Result<Vec<f64>, String> {
    Ok(vec![1.0])
}

#[step]
fn train(data: Vec<f64>) -> Result<f64, String> {
    Ok(data[0])
}

#[step]
fn evaluate(model: f64, data: Vec<f64>) -> Result<bool, String> {
    Ok(model > data[0])
}

#[pipeline]
fn wrong() {
    let data = load();
    let model = train(data);
    // The model where the data belongs.
    evaluate(model, model);
}

fn main() {
    weir::main(wrong);
}
