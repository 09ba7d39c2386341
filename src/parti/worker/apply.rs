//! Applying an assignment key's change (parti-protocol.md §7.5): the version rule, the leftover
//! check of a value older than the worker, the events, and the consumer's partition list (a
//! deleted key stops the consumer; Go keeps consuming).

use super::{Machine, READ_TIMEOUT, Running, diff};
use crate::parti::assignment::Assignment;
use crate::parti::events::WorkerEvent;
use crate::parti::kv::{KvEntry, KvOp};
use crate::parti::publisher::highest_version;
use crate::parti::state::State;

impl Machine {
    pub(super) async fn on_assignment(&self, running: &mut Running, entry: KvEntry) {
        match entry.op {
            KvOp::Delete => {
                // Go keeps working on the last partitions (§7.5): the worker state does too,
                // but its consumer stops. The key goes when the leader counted this worker
                // out, so the partitions are someone else's now; consuming them would be a
                // zombie's work. The next assignment starts it again.
                if let Some(consumer) = &running.consumer
                    && running.held.is_some()
                {
                    consumer.submit(Vec::new());
                    self.emit(WorkerEvent::Warning {
                        message: format!(
                            "assignment {} deleted: consuming nothing until the next assignment",
                            entry.key
                        ),
                    });
                }
                return;
            }
            KvOp::Purge => {
                self.emit(WorkerEvent::Warning {
                    message: format!("assignment {} purged; ignored", entry.key),
                });
                return;
            }
            KvOp::Put => {}
        }
        let value = match Assignment::decode(&entry.value) {
            Ok(value) => value,
            Err(err) => {
                self.emit(WorkerEvent::Warning {
                    message: format!("undecodable assignment {}: {err}", entry.key),
                });
                return;
            }
        };
        let initial = running.held.is_none();
        let from_before_start = running
            .leftover_revision
            .is_some_and(|revision| entry.revision <= revision);
        if initial && from_before_start {
            // A value that was already there when this worker started may be a leftover from
            // this ID's previous life (Go bug §13.10): accept it only if it belongs to the
            // newest publish. Values written after the start come from the current leader.
            let newest = tokio::time::timeout(
                READ_TIMEOUT,
                highest_version(running.buckets.assignment.as_ref()),
            )
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(0);
            if value.version < newest {
                return;
            }
        } else if running
            .held
            .as_ref()
            .is_some_and(|held| value.version <= held.version)
        {
            return;
        }
        let previous = running
            .held
            .take()
            .map(|held| held.partitions)
            .unwrap_or_default();
        let (added, removed) = diff(&previous, &value.partitions);
        self.status.send_modify(|s| {
            s.version = value.version;
            s.partitions = value.partitions.len();
        });
        self.emit(WorkerEvent::AssignmentApplied {
            initial,
            version: value.version,
            lifecycle: value.lifecycle.clone(),
            added,
            removed,
            total: value.partitions.len(),
        });
        if let Some(consumer) = &running.consumer
            && !(initial && value.partitions.is_empty())
        {
            consumer.submit(value.partitions.clone());
        }
        running.held = Some(value);
        if initial {
            self.transition(State::Stable);
        }
    }
}
