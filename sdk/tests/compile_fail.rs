//! The compiler checks a pipeline's DAG: a step input fed the wrong type, or a step
//! called without one of its inputs, does not compile, and the error says why.
//! (Few cases: each compiles a crate against the SDK.)

#[test]
fn wrong_edges_and_missing_inputs_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/wrong_edge.rs");
    cases.compile_fail("tests/ui/missing_input.rs");
}
