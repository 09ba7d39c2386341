//! The log filter every process mode shares: `PARTI_TOP_LOG` (tracing's `EnvFilter` syntax)
//! when set, else the mode's default.

use tracing_subscriber::EnvFilter;

/// The default for interactive use and for hosts: our info lines, async-nats only when it warns.
pub const DEFAULT: &str = "info,async_nats=warn";

/// `PARTI_TOP_LOG` if it is set and valid, else `default`.
pub fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("PARTI_TOP_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}
