//! Tests of the pure update: keys become actions, observations fill the model.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::action::WorkerTarget;
use crate::observation::{
    ActionRecord, Check, ClusterEvent, Finding, ProcessKind, ProcessSample, Sample, StepProgress,
    WorkerView,
};
use crate::parti::state::State;
use crate::tui::keymap::PAUSE;
use crate::tui::model::{Prompt, RunFacts, Screen, Window};

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
            nats_nodes: 1,
            proxied: true,
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

fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn shifted(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT))
}

fn question(model: &Model) -> Option<&str> {
    match &model.prompt {
        Some(Prompt::Confirm { question, .. }) => Some(question),
        _ => None,
    }
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
    assert_eq!(model.pending_actions, 3);
}

#[test]
fn destructive_keys_are_capitals_that_ask_first() {
    let mut model = model_with_workers();
    update(&mut model, key('j'));
    assert_eq!(model.selected, 1, "j moves down");
    assert!(update(&mut model, key('k')).is_empty(), "k moves up");
    assert_eq!(model.selected, 0);
    assert!(model.prompt.is_none(), "k never kills");
    update(&mut model, code(KeyCode::Down));

    assert!(update(&mut model, shifted('K')).is_empty(), "K asks first");
    assert_eq!(
        question(&model),
        Some("kill worker-1 (a crash: no cleanup)?")
    );
    assert_eq!(
        update(&mut model, key('y')),
        vec![Effect::Act(Action::KillWorker(WorkerTarget::Id(
            "worker-1".into()
        )))]
    );
    assert!(model.prompt.is_none());

    update(&mut model, shifted('S'));
    assert_eq!(question(&model), Some("stop worker-1 gracefully?"));
    assert_eq!(
        update(&mut model, code(KeyCode::Enter)),
        vec![Effect::Act(Action::StopWorker(WorkerTarget::Id(
            "worker-1".into()
        )))]
    );

    update(&mut model, shifted('L'));
    assert_eq!(question(&model), Some("kill the leader worker-0?"));
    assert_eq!(
        update(&mut model, key('y')),
        vec![Effect::Act(Action::KillWorker(WorkerTarget::Leader))]
    );

    update(&mut model, code(KeyCode::Down));
    update(&mut model, shifted('P'));
    assert_eq!(
        question(&model),
        Some("pause host 1 (1 worker) for 5s with SIGSTOP?"),
        "the question says how long"
    );
    assert_eq!(
        update(&mut model, key('y')),
        vec![Effect::Act(Action::PauseHost {
            host: 1,
            duration: PAUSE
        })]
    );

    update(&mut model, shifted('N'));
    assert!(question(&model).is_some_and(|q| q.starts_with("restart nats-server")));
    assert_eq!(
        update(&mut model, key('y')),
        vec![Effect::Act(Action::RestartNats)]
    );
}

#[test]
fn the_fault_keys_ask_naming_their_target_then_act() {
    use crate::action::NodeTarget;
    use crate::tui::keymap::{CUT, NODE_DOWN, SLOW, SLOW_LATENCY};
    let mut model = model_with_workers();
    // The selection starts on worker-0, on host 0 with worker-1.
    update(&mut model, shifted('H'));
    assert_eq!(question(&model), Some("kill -9 host 0 (2 workers)?"));
    assert_eq!(
        update(&mut model, key('y')),
        vec![Effect::Act(Action::KillHost(0))]
    );
    update(&mut model, shifted('C'));
    assert!(
        question(&model).is_some_and(|q| q.contains("host 0") && q.contains("10s")),
        "{:?}",
        question(&model)
    );
    assert_eq!(
        update(&mut model, key('y')),
        vec![Effect::Act(Action::CutLink {
            host: 0,
            duration: CUT
        })]
    );
    update(&mut model, shifted('W'));
    assert_eq!(
        update(&mut model, key('y')),
        vec![Effect::Act(Action::SlowLink {
            host: 0,
            latency: SLOW_LATENCY,
            bandwidth_bytes_per_s: None,
            duration: SLOW,
        })]
    );
    // A single server has no node to kill: the key explains instead of asking.
    assert!(update(&mut model, shifted('X')).is_empty());
    assert!(question(&model).is_none());
    model.facts.nats_nodes = 3;
    update(&mut model, shifted('X'));
    assert!(question(&model).is_some_and(|q| q.contains("meta leader")));
    assert_eq!(
        update(&mut model, key('y')),
        vec![Effect::Act(Action::KillNatsNode {
            node: NodeTarget::MetaLeader,
            down: NODE_DOWN
        })]
    );
    // Without fault proxies (an external server) the link keys explain instead of asking.
    model.facts.proxied = false;
    assert!(update(&mut model, shifted('C')).is_empty());
    assert!(question(&model).is_none());
}

#[test]
fn any_key_but_yes_cancels_a_confirmation_and_does_nothing_else() {
    let mut model = model_with_workers();
    for answer in [
        code(KeyCode::Esc),
        key('n'),
        key('+'),
        key('q'),
        shifted('K'),
    ] {
        update(&mut model, shifted('K'));
        assert!(model.prompt.is_some());
        assert!(update(&mut model, answer).is_empty());
        assert!(model.prompt.is_none());
        assert!(!model.quitting);
        assert_eq!(model.pending_actions, 0);
    }
    assert!(
        model
            .notice
            .as_ref()
            .is_some_and(|n| n.text.contains("cancelled"))
    );
}

#[test]
fn m_asks_for_a_label_and_typed_keys_trigger_no_command() {
    let mut model = model_with_workers();
    assert!(update(&mut model, key('m')).is_empty());
    assert_eq!(model.prompt, Some(Prompt::Mark { label: "1".into() }));
    assert_eq!(
        update(&mut model, code(KeyCode::Enter)),
        vec![Effect::Act(Action::Mark("1".into()))],
        "Enter keeps the default (the timeline shows `mark 1`)"
    );
    model.markers.push(Marker {
        t_ms: 5,
        label: Action::Mark("1".into()).label(),
    });

    update(&mut model, key('m'));
    assert_eq!(model.prompt, Some(Prompt::Mark { label: "2".into() }));
    update(&mut model, code(KeyCode::Backspace));
    for c in "qK+Lj? after kill".chars() {
        assert!(update(&mut model, key(c)).is_empty(), "{c} typed");
    }
    assert!(!model.quitting && model.pending_actions == 1 && !model.help);
    assert_eq!(model.selected, 0);
    assert_eq!(
        update(&mut model, code(KeyCode::Enter)),
        vec![Effect::Act(Action::Mark("qK+Lj? after kill".into()))]
    );

    update(&mut model, key('m'));
    assert!(update(&mut model, code(KeyCode::Esc)).is_empty());
    assert!(model.prompt.is_none());
    assert_eq!(model.pending_actions, 2, "Esc marks nothing");
}

#[test]
fn the_log_scrolls_by_line_page_and_to_either_end() {
    let mut model = model_with_workers();
    update(&mut model, Msg::Resized { rows: 30 });
    update(&mut model, Msg::LogWritten(100));
    update(&mut model, key('2'));
    update(&mut model, code(KeyCode::Up));
    update(&mut model, key('k'));
    assert_eq!(model.log.back_lines, 2);
    update(&mut model, key('j'));
    assert_eq!(model.log.back_lines, 1);
    update(&mut model, code(KeyCode::PageUp));
    assert_eq!(model.log.back_lines, 25, "a page is the screen less 6 rows");
    update(&mut model, code(KeyCode::PageDown));
    assert_eq!(model.log.back_lines, 1);
    update(&mut model, code(KeyCode::Home));
    assert_eq!(model.log.back_lines, 100, "the oldest line written");
    update(&mut model, Msg::LogWritten(110));
    assert_eq!(model.log.back_lines, 110, "stays on the same lines");
    update(&mut model, code(KeyCode::End));
    assert_eq!(model.log.back_lines, 0);
    update(&mut model, Msg::LogWritten(120));
    assert_eq!(model.log.back_lines, 0, "following stays at the newest");
    update(&mut model, shifted('G'));
    assert_eq!(model.log.back_lines, 0);
    update(&mut model, key('g'));
    assert_eq!(model.log.back_lines, 120);
    // On the dashboard the arrows move the selection; pages still scroll the log pane.
    update(&mut model, key('1'));
    update(&mut model, key('G'));
    update(&mut model, code(KeyCode::Down));
    assert_eq!((model.selected, model.log.back_lines), (1, 0));
    update(&mut model, code(KeyCode::PageUp));
    assert_eq!(model.log.back_lines, 24);
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
        load: None,
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
            .is_some_and(|n| n.error && n.text.contains("press N"))
    );
}
