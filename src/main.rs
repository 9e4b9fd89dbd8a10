//! The `layerscope` binary: parse arguments, run, map the outcome to an exit code
//! (0 ok, 1 a CI rule failed, 2 error; a closed output pipe counts as success).

use std::process::ExitCode;

use clap::Parser;
use layerscope::cli::{self, Cli, Env, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli::run(cli, &Env::from_process()) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::RulesFailed) => ExitCode::from(1),
        Err(err) if cli::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("layerscope: {}", cli::error_text(&err));
            ExitCode::from(2)
        }
    }
}
