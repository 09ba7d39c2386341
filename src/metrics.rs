//! The Prometheus exporter behind `--metrics ADDR` (docs/metrics.md): the figures a front end
//! fills ([`figures::Figures`], plain data; a run's come from its observation stream and
//! cluster state, [`run`]), their pure rendering as the text exposition format 0.0.4
//! ([`render::render`]), and a small HTTP/1.1 endpoint serving them ([`server`]).

#[cfg(test)]
mod exposition_parser;
pub mod figures;
pub mod render;
#[cfg(test)]
mod render_tests;
pub mod run;
pub mod server;

use std::net::SocketAddr;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::AppError;
pub use figures::{ClusterFigures, Figures, ProcessFigures, WorkerFigures};
pub use render::render;
pub use run::RunSource;
pub use server::Exporter;

/// A serving exporter: bound and answering from the start (with empty figures until a source
/// fills them), stopped when dropped.
pub struct Live {
    figures: watch::Sender<Figures>,
    cancel: CancellationToken,
    addr: SocketAddr,
}

impl Live {
    /// Bind `addr` and serve; `None` when no address was asked for. The bound address is
    /// printed on stderr (`parti-top: metrics on http://ADDR/metrics`) and logged. A failure
    /// to bind is a could-not-run error, before anything else starts.
    pub async fn start(addr: Option<SocketAddr>, mode: &str) -> Result<Option<Live>, AppError> {
        let Some(addr) = addr else {
            return Ok(None);
        };
        let exporter = Exporter::bind(addr).await?;
        let announcement = exporter.announcement();
        eprintln!("parti-top: {announcement}");
        tracing::info!("{announcement}");
        let addr = exporter.local_addr();
        let (figures, receiver) = watch::channel(Figures {
            mode: mode.to_owned(),
            ..Figures::default()
        });
        let cancel = CancellationToken::new();
        exporter.serve(receiver, cancel.clone());
        Ok(Some(Live {
            figures,
            cancel,
            addr,
        }))
    }

    /// The address scrapes go to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fill the figures from a run from now on.
    pub fn follow_run(&self, source: RunSource) {
        run::spawn(self.figures.clone(), source, self.cancel.clone());
    }

    /// Where another source (an attach session) publishes its figures.
    pub fn figures(&self) -> &watch::Sender<Figures> {
        &self.figures
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
