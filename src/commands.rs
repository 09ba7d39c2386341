//! The subcommands: each turns parsed arguments into a run of the library and an exit code.

pub mod dashboard;
pub mod diff;
pub mod headless;
pub mod host;
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
    }
}
