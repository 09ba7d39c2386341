//! The subcommands: each turns parsed arguments into a run of the library and an exit code.

pub mod attach;
pub mod dashboard;
pub mod diff;
pub mod headless;
pub mod host;
pub mod producer;
pub mod replay;
pub mod report;
pub mod review;
pub mod validate;

/// The workbench options the connection flags give.
pub fn workbench_options(
    connection: &crate::cli::ConnectionArgs,
) -> crate::workbench::WorkbenchOptions {
    crate::workbench::WorkbenchOptions {
        nats_server: connection.nats_server.clone(),
        auth: connection.auth(),
        server_url: connection.server.clone(),
        host_env: Vec::new(),
        join: None,
        run_id: None,
    }
}

/// The headless options the output and connection flags give (the rest left default).
pub fn headless_options(
    outputs: &crate::cli::OutputArgs,
    connection: &crate::cli::ConnectionArgs,
) -> crate::headless::HeadlessOptions {
    crate::headless::HeadlessOptions {
        record: outputs.record.clone(),
        json: outputs.json,
        junit: outputs.junit.clone(),
        html: outputs.html.clone(),
        force: outputs.force,
        metrics: outputs.metrics,
        workbench: workbench_options(connection),
        ..crate::headless::HeadlessOptions::default()
    }
}
