use weir::{pipeline, step};

#[step]
fn load() -> Result<Vec<f64>, String> {
    Ok(vec![1.0])
}

#[step]
fn train(data: Vec<f64>, rate: f64) -> Result<f64, String> {
    Ok(data[0] * rate)
}

#[pipeline]
fn missing() {
    // `rate` is not given.
    train(load());
}

fn main() {
    weir::main(missing);
}
