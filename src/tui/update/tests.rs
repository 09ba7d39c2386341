//! Tests of the pure update: keys become actions, observations fill the model.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::observation::{
    ActionRecord, Check, ClusterEvent, Finding, ProcessKind, ProcessSample, Sample, StepProgress,
    WorkerView,
};
use crate::parti::state::State;
use crate::tui::model::{RunFacts, Window};

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn worker(host: u32, slot: u64, id: &str, leader: bool) -> WorkerView {
    WorkerView {
        host,
        slot,
        worker_id: Some(id.into()),
        state: State::Stable,
        is_leader: leader,
        version: 3,
        partitions: 33,
    }
}

fn model_with_workers() -> Model {
    let mut model = Model::new(
        RunFacts {
            managed: true,
            recording: true,
            nats_up: true,
            ..RunFacts::default()
        },
        4,
    );
    let state = ClusterState {
        workers: vec![
            worker(0, 0, "worker-0", true),
            worker(0, 1, "worker-1", false),
            worker(1, 2, "worker-2", false),
        ],
        leader: Some("worker-0".into()),
        ..ClusterState::default()
    };
    update(&mut model, Msg::Cluster(Box::new(state)));
    model
}

#[test]
fn keys_produce_the_same_actions_as_profile_steps() {
    let mut model = model_with_workers();
    assert_eq!(
        update(&mut model, key('+')),
        vec![Effect::Act(Action::AddWorkers(1))]
    );
    assert_eq!(
        update(&mut model, key(']')),
        vec![Effect::Act(Action::AddWorkers(10))]
    );
    assert_eq!(
        update(&mut model, key('[')),
        vec![Effect::Act(Action::RemoveWorkers(3))],
        "capped at the running count"
    );
    assert_eq!(
        update(&mut model, key('L')),
        vec![Effect::Act(Action::KillWorker(WorkerTarget::Leader))]
    );
    assert_eq!(model.pending_actions, 4);
    update(
        &mut model,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
    );
    assert_eq!(
        update(&mut model, key('k')),
        vec![Effect::Act(Action::KillWorker(WorkerTarget::Id(
            "worker-1".into()
        )))]
    );
    update(
        &mut model,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
    );
    assert_eq!(
        update(&mut model, key('p')),
        vec![Effect::Act(Action::PauseHost {
            host: 1,
            duration: PAUSE
        })]
    );
    assert_eq!(
        update(&mut model, key('n')),
        vec![Effect::Act(Action::RestartNats)]
    );
    assert_eq!(
        update(&mut model, key('m')),
        vec![Effect::Act(Action::Mark("mark 1".into()))]
    );
}

#[test]
fn impossible_commands_explain_themselves_instead_of_acting() {
    let mut model = Model::new(RunFacts::default(), 0);
    assert!(update(&mut model, key('-')).is_empty());
    assert!(
        model
            .notice
            .as_ref()
            .is_some_and(|n| n.error && n.text.contains("no worker"))
    );
    assert!(update(&mut model, key('k')).is_empty());
    assert!(
        update(&mut model, key('n')).is_empty(),
        "an external server cannot be restarted"
    );
    assert!(
        model
            .notice
            .as_ref()
            .is_some_and(|n| n.text.contains("external"))
    );
}

#[test]
fn selection_stays_inside_the_table() {
    let mut model = model_with_workers();
    for _ in 0..10 {
        update(
            &mut model,
            Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
        );
    }
    assert_eq!(model.selected, 2);
    let fewer = ClusterState {
        workers: vec![worker(0, 0, "worker-0", true)],
        ..ClusterState::default()
    };
    update(&mut model, Msg::Cluster(Box::new(fewer)));
    assert_eq!(model.selected, 0);
    update(
        &mut model,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
    );
    assert_eq!(model.selected, 0);
}

#[test]
fn screens_help_window_and_recording_toggle() {
    let mut model = model_with_workers();
    update(&mut model, key('?'));
    assert!(model.help);
    assert!(
        update(&mut model, key('+')).is_empty(),
        "a key closes the help before acting"
    );
    assert!(!model.help);
    update(&mut model, key('3'));
    assert_eq!(model.screen, Screen::Findings);
    update(
        &mut model,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    assert_eq!(model.screen, Screen::Dashboard);
    update(&mut model, key('w'));
    assert_eq!(model.window, Window::FiveMinutes);
    assert_eq!(
        update(&mut model, key('r')),
        vec![Effect::SetRecording(false)]
    );
    assert!(!model.facts.recording);
    let log_pane = model.log_pane;
    update(&mut model, key('l'));
    assert_ne!(model.log_pane, log_pane);
}

#[test]
fn quitting_ignores_further_keys() {
    let mut model = model_with_workers();
    assert_eq!(update(&mut model, key('q')), vec![Effect::Quit]);
    assert!(update(&mut model, key('+')).is_empty());
}

#[test]
fn observations_fill_series_markers_findings_and_the_step() {
    let mut model = model_with_workers();
    let sample = Sample {
        t_ms: 1_000,
        processes: vec![ProcessSample {
            process: ProcessKind::Host(0),
            pid: 1,
            rss_bytes: 10 << 20,
            live_heap_bytes: Some(2 << 20),
            tasks: Some(40),
            workers: Some(3),
            cpu_percent: Some(1.5),
        }],
    };
    update(
        &mut model,
        Msg::Observation(Box::new(Observation::Sample(sample))),
    );
    assert_eq!(model.memory[&ProcessKind::Host(0)].len(), 1);
    let record = ActionRecord {
        t_ms: 1_200,
        action: Action::AddWorkers(1),
        source: crate::action::ActionSource::Operator,
        error: None,
    };
    update(
        &mut model,
        Msg::Observation(Box::new(Observation::Action(record))),
    );
    assert_eq!(
        model.markers,
        vec![Marker {
            t_ms: 1_200,
            label: "+1".into()
        }]
    );
    let finding = Finding {
        t_ms: 1_300,
        check: Check::SingleOwner,
        message: "partition-1 has 2 owners".into(),
    };
    update(
        &mut model,
        Msg::Observation(Box::new(Observation::Finding(finding))),
    );
    assert_eq!(model.findings.len(), 1);
    let step = StepProgress {
        t_ms: 1_400,
        index: 5,
        label: "kill leader".into(),
        status: StepStatus::Started,
    };
    update(
        &mut model,
        Msg::Observation(Box::new(Observation::Step(step))),
    );
    assert_eq!(
        model.step.as_ref().map(|s| (s.number, s.total)),
        Some((2, 4))
    );
    assert_eq!(model.now_ms, 1_400);
}

#[test]
fn a_dead_nats_server_shows_and_says_how_to_restart_it() {
    let mut model = model_with_workers();
    let event = ClusterEvent {
        t_ms: 2_000,
        host: None,
        slot: None,
        worker_id: None,
        kind: ClusterEventKind::Nats {
            up: false,
            detail: "nats-server (pid 7) is gone".into(),
        },
    };
    update(
        &mut model,
        Msg::Observation(Box::new(Observation::Cluster(event))),
    );
    assert!(!model.facts.nats_up);
    assert!(
        model
            .notice
            .as_ref()
            .is_some_and(|n| n.error && n.text.contains("press n"))
    );
}
