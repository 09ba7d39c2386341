//! The `parti-top` binary: parse the command line, set up logging, run a command, and turn its
//! outcome into an exit code (0 pass, 1 a check failed, 2 could not run).

use std::process::ExitCode;

use clap::Parser;
use parti_top::cli::{Cli, Command};
use parti_top::commands;
use parti_top::error::AppError;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("parti-top: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(run(cli));
    // Do not wait for stray blocking tasks (a resolver still waiting on pip, say).
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parti-top: {err}");
            err.exit_code()
        }
    }
}

async fn run(cli: Cli) -> Result<(), AppError> {
    match cli.command {
        Some(Command::Host(args)) if args.controlled => {
            init_host_logging();
            parti_top::host::controlled::run().await
        }
        Some(Command::Host(args)) => {
            init_stderr_logging(parti_top::logging::DEFAULT);
            commands::host::run(args).await
        }
        Some(Command::Producer(args)) => {
            if args.controlled {
                init_host_logging();
            } else {
                init_stderr_logging(parti_top::logging::DEFAULT);
            }
            commands::producer::run(args).await
        }
        Some(Command::Validate { profile }) => commands::validate::run(&profile),
        Some(Command::Replay(args)) => {
            if args.headless {
                init_stderr_logging("warn,async_nats=error");
            }
            commands::replay::run(args).await
        }
        Some(Command::Review { recording }) => commands::review::run(&recording).await,
        Some(Command::Diff(args)) => commands::diff::run(&args),
        Some(Command::Report(args)) => commands::report::run(&args),
        Some(Command::Attach(args)) => {
            // `--once` prints only its verdict; the line printer logs warnings.
            if !args.once && commands::attach::headless(&args) {
                init_stderr_logging("warn,async_nats=off");
            }
            commands::attach::run(args).await
        }
        None if cli.run.headless => {
            init_stderr_logging("warn,async_nats=error");
            commands::headless::run(cli.run).await
        }
        None => commands::dashboard::run(cli.run).await,
    }
}

/// A controlled host's stderr goes into the controller's log: one compact line per event,
/// `LEVEL message`, without time or target (the controller adds its own).
fn init_host_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(parti_top::logging::filter(parti_top::logging::DEFAULT))
        .without_time()
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

fn init_stderr_logging(default: &str) {
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(parti_top::logging::filter(default))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
