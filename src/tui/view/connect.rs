//! The connect screen: how to point other NATS tools (the nats CLI, nats-top,
//! `tools/check-cluster.py`) at the run's server, as `RunFacts::connect` gives it. The lines
//! name 0600 files that hold the generated credentials; the password itself is never shown.
//! For a run whose hosts joined from other machines, the lines name those hosts and the join
//! command instead.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::theme;
use crate::tui::model::Model;

/// The screen's lines.
pub fn lines(model: &Model) -> Vec<Line<'static>> {
    let facts = &model.facts;
    if facts.connect.is_empty() {
        return vec![
            Line::raw(format!("nats-server: {} (external)", facts.nats_url)),
            Line::raw(""),
            Line::styled(
                "parti-top did not start this server: point the nats CLI, nats-top and \
                 tools/check-cluster.py at it with the credentials you gave parti-top \
                 (--creds, --user/NATS_PASSWORD, --tls-*).",
                theme::DIM,
            ),
        ];
    }
    let mut out = Vec::with_capacity(facts.connect.len() + 2);
    for (index, text) in facts.connect.iter().enumerate() {
        let style = if index == 0 {
            theme::HEADER
        } else {
            theme::KEY
        };
        out.push(Line::from(Span::styled(text.clone(), style)));
    }
    out.push(Line::raw(""));
    // An external server's lines are about the hosts that joined from other machines.
    let note = if facts.managed {
        "The files live in the server's private directory and go when it stops; a restart \
         (N) keeps them."
    } else {
        "Each machine joins with its own credentials (docs/scaling.md); parti-top did not \
         start this server."
    };
    out.push(Line::styled(note, theme::DIM));
    out
}

/// Draw the screen into `area`.
pub fn render(model: &Model, frame: &mut Frame, area: Rect) {
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Span::styled(" connect other NATS tools ", theme::TITLE));
    frame.render_widget(
        Paragraph::new(lines(model))
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_managed_server_shows_its_hints_and_an_external_one_says_whose_credentials_to_use() {
        let mut model = Model::default();
        model.facts.nats_url = "nats://db:4222".into();
        let text: Vec<String> = lines(&model).iter().map(ToString::to_string).collect();
        assert!(text[0].contains("nats://db:4222 (external)"), "{text:?}");
        model.facts.connect = vec![
            "connect other tools to nats://127.0.0.1:4000 (credentials in 0600 files, …):".into(),
            "  nats CLI:  nats --context /tmp/x/nats-context.json kv ls".into(),
        ];
        let text: Vec<String> = lines(&model).iter().map(ToString::to_string).collect();
        assert_eq!(
            text[1],
            "  nats CLI:  nats --context /tmp/x/nats-context.json kv ls"
        );
    }

    #[test]
    fn hosts_joined_to_an_external_server_are_listed_without_the_managed_files_note() {
        let mut model = Model::default();
        model.facts.managed = false;
        model.facts.connect = vec![
            "run lab1: 2 hosts joined from other machines".into(),
            "host 0 joined from machine-b pid 4242".into(),
        ];
        let text = lines(&model)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("host 0 joined from machine-b"), "{text}");
        assert!(text.contains("its own credentials"), "{text}");
        assert!(!text.contains("private directory"), "{text}");
        model.facts.managed = true;
        let text = lines(&model)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("private directory"), "{text}");
    }
}
