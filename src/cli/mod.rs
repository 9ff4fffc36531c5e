//! The native `elbo-lab` command line: clap parsing, JSON on stdout, one-line errors on stderr.
//!
//! Exit codes: 0 success, 2 bad input (arguments, names, parameters, files, mixtures), 1 a failure
//! writing the output or a device failure. Subcommand groups live in their own files: `theory.rs`,
//! and `run.rs` for `train`, `sample` and `eval`.

mod classifier;
mod mnist_files;
mod run;
mod theory;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::theory::TheoryError;

pub use theory::TheoryCommand;

/// Train small diffusion models and see why every diffusion loss is an ELBO (Kingma & Gao 2023).
#[derive(Debug, Parser)]
#[command(name = "elbo-lab", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Parsed once per run, so the size difference of its variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The paper's formulas: weightings, schedules, the ELBO identities, low-bit analysis.
    #[command(subcommand)]
    Theory(TheoryCommand),
    /// Train a diffusion model on 2D data or MNIST; writes summary.json and a checkpoint into --out.
    Train(run::TrainArgs),
    /// Draw samples from a checkpoint: 2D into a CSV file (header `x,y`), MNIST as IDX or PNG.
    Sample(run::SampleArgs),
    /// Bits/dim (with its terms) and sample quality of a checkpoint on held-out data.
    Eval(run::EvalArgs),
    /// Training steps per second for a preset on a backend (used by `make bench`).
    Bench(run::BenchArgs),
    /// The MNIST quality classifier: train it, or state its accuracy and real digits' scores.
    #[command(subcommand)]
    Classifier(classifier::ClassifierCommand),
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: u8,
}

impl CliError {
    /// Bad input (exit code 2).
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }
}

impl From<TheoryError> for CliError {
    fn from(e: TheoryError) -> Self {
        Self::input(e.to_string())
    }
}

/// A command's result as the JSON text to print.
fn json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError {
        message: format!("cannot encode JSON: {e}"),
        code: 1,
    })
}

/// Runs a parsed command and returns the JSON text to print.
pub fn execute(cli: Cli) -> Result<String, CliError> {
    match cli.command {
        Command::Theory(cmd) => theory::execute(cmd),
        Command::Train(args) => run::train(args),
        Command::Sample(args) => run::sample(args),
        Command::Eval(args) => run::eval(args),
        Command::Bench(args) => run::bench(args),
        Command::Classifier(cmd) => classifier::execute(cmd),
    }
}

/// The whole program on explicit arguments (the first is the program name); returns the exit
/// code after writing to stdout/stderr.
pub fn run_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return clap_failure(&e, &args),
    };
    match execute(cli) {
        Ok(json) => write_stdout(&json),
        Err(e) => {
            write_stderr(&format!("error: {}", one_line(&e.message)));
            ExitCode::from(e.code)
        }
    }
}

/// Entry point of the `elbo-lab` binary.
pub fn main() -> ExitCode {
    run_with_args(std::env::args_os())
}

fn write_stdout(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            write_stderr(&format!("error: cannot write the output: {e}"));
            ExitCode::from(1)
        }
    }
}

/// One line to stderr; if stderr itself is gone there is nobody left to tell.
fn write_stderr(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The subcommands accepted after the (valid) subcommands already on the command line.
fn subcommands_after(args: &[OsString]) -> Vec<String> {
    let mut command = Cli::command();
    for arg in args.iter().skip(1) {
        let Some(arg) = arg.to_str() else { break };
        match command.find_subcommand(arg) {
            Some(sub) => command = sub.clone(),
            None => break,
        }
    }
    command
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

/// Help and version go to stdout with code 0; every other clap error becomes one line on stderr
/// with code 2 (the usage block is dropped: `--help` shows it).
fn clap_failure(e: &clap::Error, args: &[OsString]) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = write!(std::io::stdout(), "{}", e.render());
            let _ = std::io::stdout().flush();
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = e.render().to_string();
            let mut parts: Vec<&str> = Vec::new();
            for line in rendered.lines() {
                let line = line.trim();
                if line.starts_with("Usage:") || line.starts_with("For more information") {
                    break;
                }
                if !line.is_empty() {
                    parts.push(line);
                }
            }
            let mut message = parts.join(" ");
            if let Some(rest) = message.strip_prefix("error: ") {
                message = rest.to_string();
            }
            if matches!(
                e.kind(),
                ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // clap renders the whole help here; one line says what is missing instead.
                message = "a subcommand is required".to_string();
            }
            if matches!(
                e.kind(),
                ErrorKind::InvalidSubcommand
                    | ErrorKind::MissingSubcommand
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let accepted = subcommands_after(args);
                if !accepted.is_empty() {
                    message = format!("{message}; accepted subcommands: {}", accepted.join(", "));
                }
            }
            write_stderr(&format!("error: {message} (see `elbo-lab --help`)"));
            ExitCode::from(2)
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
