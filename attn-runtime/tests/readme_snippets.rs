//! The README's typed training step is the doc test of `attn_runtime::train`, line for line:
//! the README cannot drift from code that compiles and runs.

#[test]
fn the_readme_typed_training_step_is_the_doc_tested_one() {
    let readme = include_str!("../../README.md");
    let docs = include_str!("../src/train/mod.rs");
    let section = readme
        .split("### The typed training step")
        .nth(1)
        .expect("the README has the typed training step");
    let code = section
        .split("```rust\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a rust block");
    let lines: Vec<&str> = code.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 12, "{lines:?}");
    for line in lines {
        assert!(
            docs.contains(&format!("//! {line}\n")),
            "README line not in the doc test of attn_runtime::train: {line}"
        );
    }
}
