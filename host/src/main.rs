//! The `tickstock` binary.
fn main() {
    println!("{} built-in plugins", tickstock::plugin::builtin::BUILTINS.len());
}
