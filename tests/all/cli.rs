//! The command line as a whole, against the real binary: shell completions that name
//! every subcommand and parse in their shell.

use crate::support::tickstock;

#[test]
fn completions_name_every_subcommand_and_bash_parses_them() {
    let scratch = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let output = tickstock(scratch.path()).args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        for word in ["calendar", "plugins", "load", "plan", "worker", "jobs", "refresh", "serve", "bench", "log-format"]
        {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
        if shell == "bash" {
            let file = scratch.path().join("tickstock.bash");
            std::fs::write(&file, &script).unwrap();
            let syntax = std::process::Command::new("bash").arg("-n").arg(&file).output().unwrap();
            assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));
        }
    }
    let output = tickstock(scratch.path()).args(["completions", "tcsh"]).output().unwrap();
    assert!(!output.status.success(), "an unknown shell is an error");
}
