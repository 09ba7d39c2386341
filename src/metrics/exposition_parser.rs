//! A strict parser of the Prometheus text exposition format 0.0.4, for tests only (the unit
//! tests of the renderer and tests/metrics.rs, which includes this file by path; so it uses
//! nothing but `std`). It accepts only what Prometheus would: every line a `# HELP`, a
//! `# TYPE` or a sample; a sample's family declared before it with both; families
//! contiguous; no duplicate series; counters named `_total` and never negative; no NaN or
//! infinite value; no timestamps (the exporter writes none).

use std::collections::{BTreeMap, BTreeSet};

/// One parsed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn metric_name(text: &str) -> Result<(&str, &str), String> {
    let end = text
        .char_indices()
        .find(|(i, c)| {
            !(c.is_ascii_alphabetic() || *c == '_' || *c == ':' || (*i > 0 && c.is_ascii_digit()))
        })
        .map_or(text.len(), |(i, _)| i);
    if end == 0 {
        return Err(format!("no metric name in {text:?}"));
    }
    Ok(text.split_at(end))
}

fn labels(mut text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let (name, rest) = metric_name(text)?;
        if name.contains(':') {
            return Err(format!("label name {name:?} has a colon"));
        }
        let mut rest = rest
            .strip_prefix("=\"")
            .ok_or_else(|| format!("no =\" after label {name}"))?
            .chars();
        let mut value = String::new();
        loop {
            match rest.next() {
                Some('\\') => match rest.next() {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => return Err(format!("bad escape \\{other:?}")),
                },
                Some('"') => break,
                Some('\n') | None => return Err("unterminated label value".into()),
                Some(c) => value.push(c),
            }
        }
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        text = rest.as_str();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

/// Parse a whole exposition strictly; the error names the line.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut help: BTreeSet<String> = BTreeSet::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series = BTreeSet::new();
    let mut samples = Vec::new();
    if !text.ends_with('\n') {
        return Err("the text does not end with a line feed".into());
    }
    for (number, line) in text.lines().enumerate() {
        let fail = |why: String| format!("line {}: {why}: {line:?}", number + 1);
        let mut enter = |name: &str| -> Result<(), String> {
            if current.as_deref() != Some(name) {
                if finished.contains(name) {
                    return Err(format!("family {name} is not contiguous"));
                }
                if let Some(previous) = current.replace(name.to_owned()) {
                    finished.insert(previous);
                }
            }
            Ok(())
        };
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, rest) = metric_name(rest).map_err(&fail)?;
            if !rest.starts_with(' ') || rest.trim().is_empty() {
                return Err(fail("HELP without text".into()));
            }
            enter(name).map_err(&fail)?;
            if !help.insert(name.to_owned()) {
                return Err(fail("second HELP".into()));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = metric_name(rest).map_err(&fail)?;
            let kind = kind.trim_start_matches(' ');
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(fail(format!("unknown type {kind:?}")));
            }
            enter(name).map_err(&fail)?;
            if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                return Err(fail("second TYPE".into()));
            }
        } else if line.starts_with('#') || line.is_empty() {
            return Err(fail(
                "a line that is neither HELP, TYPE nor a sample".into(),
            ));
        } else {
            let (name, rest) = metric_name(line).map_err(&fail)?;
            let (labels, rest) = match rest.strip_prefix('{') {
                Some(rest) => labels(rest).map_err(&fail)?,
                None => (BTreeMap::new(), rest),
            };
            let value = rest
                .strip_prefix(' ')
                .ok_or_else(|| fail("no space before the value".into()))?;
            if value.contains(' ') {
                return Err(fail("a timestamp or trailing text".into()));
            }
            let value: f64 = value
                .parse()
                .map_err(|err| fail(format!("value {value:?}: {err}")))?;
            if !value.is_finite() {
                return Err(fail("NaN or infinite value".into()));
            }
            enter(name).map_err(&fail)?;
            if !help.contains(name) {
                return Err(fail("sample before its family's HELP".into()));
            }
            match types.get(name).map(String::as_str) {
                None => return Err(fail("sample before its family's TYPE".into())),
                Some("counter") if !name.ends_with("_total") => {
                    return Err(fail("counter not named _total".into()));
                }
                Some("counter") if value < 0.0 => {
                    return Err(fail("negative counter".into()));
                }
                Some(_) => {}
            }
            if !series.insert((name.to_owned(), labels.clone())) {
                return Err(fail("duplicate series".into()));
            }
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
    }
    Ok(samples)
}

/// The value of the series `name` with exactly `labels`, if there is one.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}
