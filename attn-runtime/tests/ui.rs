//! trybuild UI tests of `attention_model!`: every architecture compiles and runs (`ui/pass`), and
//! every mistake fails with the macro's message on the offending token (`ui/fail`, `.stderr`
//! snapshots). Refresh snapshots with `TRYBUILD=overwrite cargo test -p attn-runtime --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
