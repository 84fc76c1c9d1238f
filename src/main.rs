//! The `aula` binary: parses the command line, sets up logging and signals, maps errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use aula::cancel::Cancel;
use aula::commands::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,whisper_rs=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // AULA_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if std::env::var("AULA_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let cancel = Cancel::default();
        cancel.on_signals();
        run(cli, cancel).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(aula::exit_code(&err))
        }
    }
}
