//! Carrying out [`Action`]s: which hosts get which commands, which worker a target names, and
//! how many workers the cluster should end with (the expectation the measured event is judged
//! against).

use std::time::Duration;

use tracing::info;

use super::engine::EngineInput;
use super::{Mutable, Shared};
use crate::action::{Action, ActionSource, NodeTarget, Rng, WorkerTarget};
use crate::control::HostCommand;
use crate::observation::ActionRecord;
use crate::profile::StartMode;

/// An action being carried out: the workbench and its locked mutable part.
pub(super) struct Acting<'a> {
    pub(super) wb: &'a Shared,
    pub(super) s: &'a mut Mutable,
}

impl Acting<'_> {
    fn live_hosts(&self) -> Vec<usize> {
        (0..self.s.hosts.len())
            .filter(|h| !self.s.hosts[*h].has_exited())
            .collect()
    }

    /// Tell the engine an action starts now; returns the action count to wait for.
    fn open_event(
        &mut self,
        action: &Action,
        source: &ActionSource,
        expected_live: usize,
    ) -> usize {
        let t_ms = self.wb.now_ms();
        self.open_event_at(t_ms, action, source, expected_live)
    }

    /// [`Self::open_event`] at a given run time (a fault's clearance names its event by it).
    fn open_event_at(
        &mut self,
        t_ms: u64,
        action: &Action,
        source: &ActionSource,
        expected_live: usize,
    ) -> usize {
        let record = ActionRecord {
            t_ms,
            action: action.clone(),
            source: source.clone(),
            error: None,
        };
        let _ = self.wb.engine.send(EngineInput::Action {
            record,
            expected_live,
        });
        self.s.actions_sent += 1;
        self.s.actions_sent
    }

    pub(super) async fn carry_out(
        &mut self,
        action: Action,
        source: ActionSource,
    ) -> Result<usize, String> {
        // A host that is gone (killed by hand, or a joined host gone silent) runs nothing:
        // its workers are no longer part of the count the next scale starts from.
        for (host, planned) in self.s.planned.iter_mut().enumerate() {
            if self
                .s
                .hosts
                .get(host)
                .is_none_or(super::hosts::HostProcess::has_exited)
            {
                *planned = 0;
            }
        }
        let target = self.s.planned.iter().sum::<usize>();
        match &action {
            Action::ScaleTo(n) if *n >= target => {
                self.check_pool(*n)?;
                let seq = self.open_event(&action, &source, *n);
                self.add(*n - target).await?;
                Ok(seq)
            }
            Action::ScaleTo(n) => {
                let seq = self.open_event(&action, &source, *n);
                self.remove(target - *n).await?;
                Ok(seq)
            }
            Action::AddWorkers(k) => {
                self.check_pool(target + k)?;
                let seq = self.open_event(&action, &source, target + k);
                self.add(*k).await?;
                Ok(seq)
            }
            Action::RemoveWorkers(k) => {
                let k = (*k).min(target);
                let seq = self.open_event(&action, &source, target - k);
                self.remove(k).await?;
                Ok(seq)
            }
            Action::KillWorker(who) | Action::StopWorker(who) => {
                let (worker_id, host) = self.resolve(who)?;
                let seq = self.open_event(&action, &source, target.saturating_sub(1));
                let command = if matches!(action, Action::KillWorker(_)) {
                    HostCommand::Kill {
                        worker_id: worker_id.clone(),
                    }
                } else {
                    HostCommand::Stop {
                        worker_id: worker_id.clone(),
                    }
                };
                self.wb.command(host, &command).await?;
                self.s.planned[host as usize] = self.s.planned[host as usize].saturating_sub(1);
                info!("{action}: {worker_id} on host {host}");
                Ok(seq)
            }
            Action::KillHost(host) => {
                let index = *host as usize;
                if self
                    .s
                    .hosts
                    .get(index)
                    .is_none_or(super::hosts::HostProcess::has_exited)
                {
                    return Err(format!("host {host} is not running"));
                }
                let lost = self.s.planned[index];
                let seq = self.open_event(&action, &source, target - lost);
                self.kill_host(*host);
                Ok(seq)
            }
            Action::PauseHost { host, duration } => {
                let index = *host as usize;
                let Some(process) = self.s.hosts.get(index).filter(|p| !p.has_exited()) else {
                    return Err(format!("host {host} is not running"));
                };
                if process.is_joined() {
                    return Err(format!(
                        "host {host} joined from another machine: it cannot be paused from here"
                    ));
                }
                let signaller = process.signaller();
                process.pause();
                let t_ms = self.wb.now_ms();
                let seq = self.open_event_at(t_ms, &action, &source, target);
                let duration = *duration;
                let engine = self.wb.engine.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(duration).await;
                    signaller.resume();
                    let _ = engine.send(EngineInput::FaultCleared { event_t_ms: t_ms });
                });
                Ok(seq)
            }
            Action::RestartNats => {
                if self.s.managed.is_none() {
                    return Err("nats-server is external; it cannot be restarted from here".into());
                }
                let t_ms = self.wb.now_ms();
                let seq = self.open_event_at(t_ms, &action, &source, target);
                let Some(server) = self.s.managed.as_mut() else {
                    return Ok(seq);
                };
                self.wb.targets.set_nats_restarting(true);
                let restarted = server.restart().await.map_err(|err| err.to_string());
                self.wb.targets.set_nats(server.pid());
                self.wb.targets.set_nats_restarting(false);
                if let Err(err) = &restarted {
                    // Not the cluster's failure: the infrastructure could not be brought back.
                    let _ = self.wb.engine.send(EngineInput::Nats {
                        up: false,
                        detail: format!("nats-server did not come back after a restart: {err}"),
                        expected: false,
                    });
                }
                restarted?;
                let _ = self
                    .wb
                    .engine
                    .send(EngineInput::FaultCleared { event_t_ms: t_ms });
                Ok(seq)
            }
            Action::KillHostOf(who) => {
                let (worker_id, host) = self.resolve(who)?;
                info!("{action}: {worker_id} runs on host {host}");
                let lost = self.s.planned[host as usize];
                let seq = self.open_event(&action, &source, target - lost.min(target));
                self.kill_host(host);
                Ok(seq)
            }
            Action::CutLink { host, duration } => {
                let link = self.link(*host)?;
                let t_ms = self.wb.now_ms();
                let seq = self.open_event_at(t_ms, &action, &source, target);
                let reset = link.cut();
                info!("host {host}'s link cut ({reset} connections reset)");
                self.clear_after(*duration, t_ms, move || {
                    link.restore();
                });
                Ok(seq)
            }
            Action::SlowLink {
                host,
                latency,
                bandwidth_bytes_per_s,
                duration,
            } => {
                let link = self.link(*host)?;
                let t_ms = self.wb.now_ms();
                let seq = self.open_event_at(t_ms, &action, &source, target);
                link.set_latency(*latency);
                link.set_bandwidth(*bandwidth_bytes_per_s);
                self.clear_after(*duration, t_ms, move || {
                    link.set_latency(Duration::ZERO);
                    link.set_bandwidth(None);
                });
                Ok(seq)
            }
            Action::KillNatsNode { node, down } => {
                let cluster = self
                    .wb
                    .cluster
                    .clone()
                    .ok_or("no managed NATS cluster in this run")?;
                let index = {
                    let guard = cluster.lock().await;
                    match node {
                        NodeTarget::Index(i) if *i < guard.node_count() => *i,
                        NodeTarget::Index(i) => {
                            return Err(format!("nats node {i} does not exist"));
                        }
                        NodeTarget::MetaLeader => {
                            guard.meta_leader().await.map_err(|err| err.to_string())?
                        }
                    }
                };
                let t_ms = self.wb.now_ms();
                let seq = self.open_event_at(t_ms, &action, &source, target);
                cluster
                    .lock()
                    .await
                    .kill_node(index)
                    .await
                    .map_err(|err| err.to_string())?;
                info!("nats node {index} killed; it restarts in {down:?}");
                let (down, engine) = (*down, self.wb.engine.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(down).await;
                    let restarted = cluster.lock().await.restart_node(index).await;
                    if let Err(err) = restarted {
                        let _ = engine.send(EngineInput::Nats {
                            up: false,
                            detail: format!("nats node {index} did not come back: {err}"),
                            expected: false,
                        });
                    }
                    let _ = engine.send(EngineInput::FaultCleared { event_t_ms: t_ms });
                });
                Ok(seq)
            }
            Action::Mark(_) => Ok(self.open_event(&action, &source, target)),
            Action::Observed(_) => {
                Err("observed events are recorded by the engine, not acted".into())
            }
        }
    }

    /// `kill -9` host `host` (its exit is expected) and plan no workers on it.
    fn kill_host(&mut self, host: u32) {
        self.wb
            .expected_exits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(host);
        if let Some(process) = self.s.hosts.get_mut(host as usize) {
            process.kill();
        }
        if let Some(planned) = self.s.planned.get_mut(host as usize) {
            *planned = 0;
        }
    }

    /// Host `host`'s link, if it is running and proxied.
    fn link(&self, host: u32) -> Result<crate::netfault::LinkControl, String> {
        if self
            .s
            .hosts
            .get(host as usize)
            .is_none_or(super::hosts::HostProcess::has_exited)
        {
            return Err(format!("host {host} is not running"));
        }
        self.wb.links.get(host as usize).cloned().ok_or_else(|| {
            "hosts reach NATS directly in this run (external server): no link to act on".into()
        })
    }

    /// After `duration`, undo a fault and tell the engine that the event opened at `t_ms` may
    /// now stabilize.
    fn clear_after(&self, duration: Duration, t_ms: u64, undo: impl FnOnce() + Send + 'static) {
        let engine = self.wb.engine.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            undo();
            let _ = engine.send(EngineInput::FaultCleared { event_t_ms: t_ms });
        });
    }

    /// Whether `workers` can run at once: within the worker ID pool and the machine's limits.
    fn check_pool(&self, workers: usize) -> Result<(), String> {
        let cluster = &self.wb.profile.cluster;
        let pool = (cluster.worker_id_max - cluster.worker_id_min) as usize + 1;
        if workers > pool {
            return Err(format!(
                "{workers} workers exceed the worker ID pool of {pool}"
            ));
        }
        let hosts = u32::try_from(self.live_hosts().len()).unwrap_or(u32::MAX);
        match self
            .wb
            .capacity
            .refusal(workers as u64, hosts, self.wb.managed_server)
        {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// The worker a target names, and its host.
    fn resolve(&mut self, who: &WorkerTarget) -> Result<(String, u32), String> {
        let state = self.wb.state.borrow().clone();
        let running: Vec<(String, u32)> = state
            .workers
            .iter()
            .filter_map(|w| Some((w.worker_id.clone()?, w.host)))
            .collect();
        let pick = |candidates: Vec<(String, u32)>, rng: &mut Rng| {
            let index = rng.below(candidates.len());
            candidates.into_iter().nth(index)
        };
        let chosen = match who {
            WorkerTarget::Leader => {
                let leader = state.leader.clone().ok_or("no leader in KV right now")?;
                running.into_iter().find(|(id, _)| *id == leader)
            }
            WorkerTarget::AnyFollower => {
                let followers: Vec<_> = running
                    .into_iter()
                    .filter(|(id, _)| Some(id) != state.leader.as_ref())
                    .collect();
                pick(followers, &mut self.s.rng)
            }
            WorkerTarget::Any => pick(running, &mut self.s.rng),
            WorkerTarget::Id(id) => running.into_iter().find(|(running_id, _)| running_id == id),
        };
        chosen.ok_or_else(|| format!("no running worker is {who}"))
    }

    /// Start `count` workers, spread over the hosts with the fewest. The callers check the pool
    /// and the limits first, before they open the event.
    async fn add(&mut self, count: usize) -> Result<(), String> {
        let hosts = self.live_hosts();
        if hosts.is_empty() {
            return Err("no host is running".into());
        }
        let mut per_host = vec![0usize; self.s.hosts.len()];
        for _ in 0..count {
            let host = *hosts
                .iter()
                .min_by_key(|h| self.s.planned[**h] + per_host[**h])
                .unwrap_or(&hosts[0]);
            per_host[host] += 1;
        }
        match self.wb.profile.cluster.start_mode {
            StartMode::Parallel => {
                for (host, n) in per_host.iter().enumerate().filter(|(_, n)| **n > 0) {
                    self.wb
                        .command(host as u32, &HostCommand::Start { count: *n })
                        .await?;
                    self.s.planned[host] += n;
                }
            }
            StartMode::Serial => {
                let wait = self
                    .wb
                    .profile
                    .cluster
                    .timing
                    .timing()
                    .assignment_wait_timeout();
                for (host, n) in per_host.iter().enumerate() {
                    for _ in 0..*n {
                        let before = self.wb.state.borrow().workers.len();
                        self.wb
                            .command(host as u32, &HostCommand::Start { count: 1 })
                            .await?;
                        self.s.planned[host] += 1;
                        self.wait_all_stable(before + 1, wait).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Serial start: wait until `count` workers run and every one is Stable.
    async fn wait_all_stable(&self, count: usize, timeout: Duration) -> Result<(), String> {
        let mut state = self.wb.state.clone();
        let ready = |s: &super::ClusterState| {
            s.workers.len() >= count
                && s.workers
                    .iter()
                    .all(|w| w.state == crate::parti::state::State::Stable)
        };
        tokio::time::timeout(timeout, state.wait_for(ready))
            .await
            .map(|_| ())
            .map_err(|_| format!("serial start: worker {count} not Stable within {timeout:?}"))
    }

    /// Gracefully stop `count` workers, taking them from the hosts with the most.
    async fn remove(&mut self, count: usize) -> Result<(), String> {
        let mut per_host = vec![0usize; self.s.hosts.len()];
        for _ in 0..count {
            let Some(host) = (0..self.s.hosts.len())
                .filter(|h| self.s.planned[*h] > per_host[*h])
                .max_by_key(|h| self.s.planned[*h] - per_host[*h])
            else {
                break;
            };
            per_host[host] += 1;
        }
        for (host, n) in per_host.iter().enumerate().filter(|(_, n)| **n > 0) {
            self.wb
                .command(host as u32, &HostCommand::StopNewest { count: *n })
                .await?;
            self.s.planned[host] -= n;
        }
        Ok(())
    }
}
