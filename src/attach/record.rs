//! `attach --record OUT.ron`: what a live attach saw, in the recording format
//! (docs/recording-format.md), so that `parti-top review`, `validate` and `report` read it like
//! a run. The profile in its header is a stand-in named `attach` (an attach runs no profile):
//! its description names the server, its partition count is what the assignments held, and it
//! has no steps. There are no samples (attach measures no process). The file is rewritten every
//! [`AUTOSAVE`] while something new arrived, and once more with the summary at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::observation::Observation;
use crate::profile::Profile;
use crate::record::format::{Header, Recording, RunMode};
use crate::record::io::save_atomic;

/// How often a changed recording is saved while the attach goes on.
pub const AUTOSAVE: Duration = Duration::from_secs(5);

/// The stand-in profile of an attach to `url` whose assignments held `partitions`.
pub fn profile(url: &str, partitions: usize) -> Result<Profile, String> {
    let text = format!(
        "(name: \"attach\", description: {:?}, cluster: (partitions: Count({partitions})), steps: [])",
        format!("read-only attach to the parti cluster at {url}")
    );
    ron::from_str(&text).map_err(|err| format!("cannot describe the attach as a profile: {err}"))
}

/// A recording being made of an attach.
pub struct AttachRecorder {
    path: PathBuf,
    recording: Recording,
    changed: bool,
    saved_at: Instant,
}

impl AttachRecorder {
    /// Start a recording of an attach to `url` (nothing is written until the first save).
    pub fn new(
        path: PathBuf,
        url: &str,
        mode: RunMode,
        server_version: Option<String>,
    ) -> Result<Self, String> {
        let run_id = format!("attach-{}", std::process::id());
        let mut header = Header::new(mode, profile(url, 1)?, run_id);
        header.nats_server_version = server_version;
        Ok(Self {
            path,
            recording: Recording::new(header),
            changed: false,
            saved_at: Instant::now(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// File one observation; save when the autosave interval has passed.
    pub fn push(&mut self, observation: Observation) {
        self.recording.push(observation);
        self.changed = true;
        if self.saved_at.elapsed() >= AUTOSAVE {
            self.autosave();
        }
    }

    /// Save what has arrived, without a summary (a failure is logged, the attach goes on).
    pub fn autosave(&mut self) {
        if !self.changed {
            return;
        }
        if let Err(err) = save_atomic(&self.recording, &self.path) {
            tracing::warn!("cannot autosave the recording: {err}");
        }
        self.changed = false;
        self.saved_at = Instant::now();
    }

    /// The final save, with the partitions the cluster held and the summary.
    pub fn finish(mut self, url: &str, partitions: usize) -> Result<PathBuf, String> {
        if let Ok(profile) = profile(url, partitions.max(1)) {
            self.recording.header.profile = profile;
        }
        let summary = crate::report::summary::summarize(
            &self.recording,
            &self.recording.header.profile.thresholds,
            0,
        );
        self.recording.summary = Some(summary);
        save_atomic(&self.recording, &self.path).map_err(|err| err.to_string())?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_in_profile_names_the_server() {
        let profile = profile("nats://a:4222", 100).expect("profile");
        assert_eq!(profile.name, "attach");
        assert!(profile.description.contains("nats://a:4222"));
        assert!(profile.steps.is_empty());
        assert_eq!(
            profile.cluster.partitions,
            crate::profile::PartitionsSetup::Count(100)
        );
    }
}
