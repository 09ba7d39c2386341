//! The settings of one link and how a cut changes them: pure state transitions.
//!
//! Owns [`LinkSettings`] (latency, bandwidth cap, cut state) and [`CutMode`]. A cut carries an
//! epoch so that a timed cut ([`super::LinkControl::cut_for`]) restores only the cut it made, not
//! a later one.

use std::time::Duration;

/// What a cut does to the link (docs/faults.md explains the choice of the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CutMode {
    /// Close every proxied connection at once, and close new ones right after accepting them,
    /// until restored. Both ends see the connection end; the server drops the client's
    /// subscriptions at once; the client reconnects after the restore.
    #[default]
    Reset,
    /// Stop forwarding in both directions without closing anything: bytes stay unread in the
    /// sockets, new connections are accepted but get no answer. Each side notices only through
    /// its own ping timeout; a restore before that resumes the same connections.
    BlackHole,
}

/// What happened to the link's connections on a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutChange {
    /// The epoch of the cut now in force (for [`LinkSettings::restore_epoch`]).
    pub epoch: u64,
    /// Whether the open connections must be closed now.
    pub reset_connections: bool,
}

/// The current fault settings of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkSettings {
    /// Added one-way delay, per direction.
    pub latency: Duration,
    /// Cap per direction; `None` is unlimited.
    pub bandwidth_bytes_per_s: Option<u64>,
    /// The cut in force, if any.
    pub cut: Option<CutMode>,
    /// Counts cuts; identifies the one in force.
    pub cut_epoch: u64,
}

impl LinkSettings {
    /// Whether bytes may flow and new connections be served.
    pub fn is_flowing(&self) -> bool {
        self.cut.is_none()
    }

    /// Whether new connections are to be closed right after being accepted.
    pub fn refuses_connections(&self) -> bool {
        self.cut == Some(CutMode::Reset)
    }

    /// Starts a cut (or replaces the one in force; either way a new epoch). Connections are
    /// reset when the new mode is [`CutMode::Reset`] and the link was not already reset.
    pub fn cut(&mut self, mode: CutMode) -> CutChange {
        let was = self.cut;
        self.cut = Some(mode);
        self.cut_epoch += 1;
        CutChange {
            epoch: self.cut_epoch,
            reset_connections: mode == CutMode::Reset && was != Some(CutMode::Reset),
        }
    }

    /// Ends the cut in force; returns whether there was one.
    pub fn restore(&mut self) -> bool {
        self.cut.take().is_some()
    }

    /// Ends the cut only if it is still the one of `epoch`; returns whether it did.
    pub fn restore_epoch(&mut self, epoch: u64) -> bool {
        if self.cut.is_some() && self.cut_epoch == epoch {
            self.restore()
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_cut_closes_connections_once() {
        let mut s = LinkSettings::default();
        assert!(s.is_flowing() && !s.refuses_connections());
        let first = s.cut(CutMode::Reset);
        assert_eq!(
            first,
            CutChange {
                epoch: 1,
                reset_connections: true
            }
        );
        assert!(!s.is_flowing() && s.refuses_connections());
        // Cutting again extends the cut with a new epoch; nothing is open to reset.
        let again = s.cut(CutMode::Reset);
        assert_eq!(again.epoch, 2);
        assert!(!again.reset_connections);
        assert!(s.restore());
        assert!(!s.restore(), "nothing left to restore");
        assert!(s.is_flowing());
    }

    #[test]
    fn a_black_hole_holds_connections_and_can_be_turned_into_a_reset() {
        let mut s = LinkSettings::default();
        let hole = s.cut(CutMode::BlackHole);
        assert!(!hole.reset_connections);
        assert!(!s.is_flowing() && !s.refuses_connections());
        let reset = s.cut(CutMode::Reset);
        assert!(reset.reset_connections, "held connections are closed now");
        let back = s.cut(CutMode::BlackHole);
        assert!(!back.reset_connections);
        assert!(!s.refuses_connections());
    }

    #[test]
    fn a_timed_restore_ends_only_its_own_cut() {
        let mut s = LinkSettings::default();
        let timed = s.cut(CutMode::Reset);
        // Restored by hand and cut again before the timer fires.
        s.restore();
        let later = s.cut(CutMode::Reset);
        assert!(!s.restore_epoch(timed.epoch));
        assert!(!s.is_flowing(), "the later cut stays");
        assert!(s.restore_epoch(later.epoch));
        assert!(s.is_flowing());
        assert!(!s.restore_epoch(later.epoch), "already restored");
    }

    #[test]
    fn cuts_leave_latency_and_bandwidth_alone() {
        let mut s = LinkSettings {
            latency: Duration::from_millis(20),
            bandwidth_bytes_per_s: Some(1_000),
            ..LinkSettings::default()
        };
        s.cut(CutMode::Reset);
        s.restore();
        assert_eq!(s.latency, Duration::from_millis(20));
        assert_eq!(s.bandwidth_bytes_per_s, Some(1_000));
    }
}
