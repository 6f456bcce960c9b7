//! The guides under docs/ run as written: every ```sh block of a guide, in order, in one
//! bash process in a fresh temp dir, with the `tickstock` built by this test run first on
//! PATH. A guide whose commands drift from the code fails here rather than in a reader's
//! terminal.
//!
//! Blocks fenced as ```text are prose (they show files to edit in this repository, or
//! output). Blocks fenced as ```sh services need Redis and PostgreSQL: they run when
//! `TICKSTOCK_TEST_REDIS_URL` and `TICKSTOCK_TEST_POSTGRES_URL` are set (always under
//! `CI=true`) and are left out, with a printed reason, on a laptop without them.
//!
//! The guides read a few variables a reader may change, documented at the top of each:
//! `PORT` (the admin API of `tickstock serve`), `REDIS_URL`, `DATABASE_URL` and
//! `QUEUE_PREFIX`. The test sets them to a free port, the test services, a fresh
//! PostgreSQL database and a prefix of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{TestDatabase, postgres_url, redis_url};

/// One fenced block of a guide that the test runs.
#[derive(Debug, PartialEq, Eq)]
struct RunnableBlock {
    /// Line of the opening fence, for failure messages.
    line: usize,
    needs_services: bool,
    code: String,
}

/// The ```sh blocks of a guide, in order; every other fence is skipped.
fn runnable_blocks(markdown: &str) -> Vec<RunnableBlock> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match current.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    current = Some((index + 1, info.trim().to_string(), String::new()));
                }
            }
            Some((start, info, code)) if trimmed.starts_with("```") => {
                let mut words = info.split_whitespace();
                if words.next() == Some("sh") {
                    let needs_services = words.any(|word| word == "services");
                    blocks.push(RunnableBlock { line: start, needs_services, code });
                }
            }
            Some((start, info, mut code)) => {
                code.push_str(line);
                code.push('\n');
                current = Some((start, info, code));
            }
        }
    }
    assert!(current.is_none(), "a code fence is never closed");
    blocks
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Deletes the Redis keys under the guide's prefix when the test ends, however it ends.
struct RedisKeys {
    url: String,
    prefix: String,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else { return };
        let Ok(mut connection) = client.get_connection() else { return };
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query(&mut connection).unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}

/// Runs docs/`file_name` and panics with the end of its output if any command fails.
fn run_guide(file_name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs").join(file_name);
    let markdown = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let blocks = runnable_blocks(&markdown);
    assert!(!blocks.is_empty(), "{file_name} has no ```sh block");

    let scratch = tempfile::tempdir().unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_tickstock"));
    let path_variable = format!("{}:{}", binary.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("bash");
    command
        .current_dir(scratch.path())
        .env("PATH", path_variable)
        .env("TICKSTOCK_CACHE_DIR", scratch.path().join(".cache"))
        .env("PORT", free_port().to_string());
    // Settings of the developer's shell or of the outer cargo must not reach the guide:
    // the guide states every setting it relies on.
    for variable in [
        "TICKSTOCK_DB",
        "TICKSTOCK_PLUGINS",
        "TICKSTOCK_QUEUE",
        "TICKSTOCK_TOKEN",
        "TICKSTOCK_CONFIG",
        "TICKSTOCK_PROVIDER",
        "TICKSTOCK_DATA_DIR",
        "TICKSTOCK_UNIVERSES",
        "CARGO_TARGET_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(variable);
    }

    let mut _database = None;
    let mut _redis_keys = None;
    let services_wanted = blocks.iter().any(|block| block.needs_services);
    let services = if services_wanted {
        match (redis_url(), postgres_url()) {
            (Some(redis), Some(postgres)) => Some((redis, postgres)),
            _ => None,
        }
    } else {
        None
    };
    if let Some((redis, postgres)) = &services {
        let database = TestDatabase::create(postgres);
        let prefix = format!("tickstock-guide:{}:{}:", std::process::id(), free_port());
        command.env("REDIS_URL", redis).env("DATABASE_URL", &database.url).env("QUEUE_PREFIX", &prefix);
        _redis_keys = Some(RedisKeys { url: redis.clone(), prefix });
        _database = Some(database);
    } else if services_wanted {
        eprintln!("{file_name}: leaving out the blocks that need Redis and PostgreSQL");
    }

    // -e: a failing command fails the guide. Not pipefail: `curl | grep -q` may end curl
    // with SIGPIPE when grep has seen enough. The trap stops anything the guide started
    // in the background (a server, workers) even when a command fails half-way.
    let mut script = String::from("set -eu\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
    for block in &blocks {
        if block.needs_services && services.is_none() {
            continue;
        }
        script.push_str(&format!("\necho '+++ {file_name}:{}'\n", block.line));
        script.push_str(&block.code);
    }
    let script_path = scratch.path().join(".guide.sh");
    std::fs::write(&script_path, script).unwrap();
    let output = command.arg(&script_path).output().expect("run bash");
    if !output.status.success() {
        let tail = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(80)..].join("\n")
        };
        panic!(
            "{file_name} failed ({}); the last block started is the last `+++` line.\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            tail(&output.stdout),
            tail(&output.stderr)
        );
    }
}

#[test]
fn adding_an_exchange_runs_as_written() {
    run_guide("adding-an-exchange.md");
}

#[test]
fn tuning_a_batch_policy_runs_as_written() {
    run_guide("tuning-a-batch-policy.md");
}

#[test]
fn operating_runs_as_written() {
    run_guide("operating.md");
}

#[test]
fn only_sh_blocks_run_and_services_blocks_are_marked() {
    let markdown =
        "intro\n```text\nnot run\n```\n```sh\necho one\n```\n```rust\nfn x() {}\n```\n```sh services\necho two\n```\n";
    assert_eq!(
        runnable_blocks(markdown),
        vec![
            RunnableBlock { line: 5, needs_services: false, code: "echo one\n".into() },
            RunnableBlock { line: 11, needs_services: true, code: "echo two\n".into() },
        ]
    );
}
