//! The pure parts of watching a managed cluster through the monitoring endpoints: the raw
//! HTTP/1.0 request and response, the fields of `/jsz` and `/routez` that matter, and the
//! decisions taken on them (who is the JetStream meta leader, is the cluster ready).

use std::collections::BTreeSet;

use serde::Deserialize;

/// `GET path` as an HTTP/1.0 request that closes the connection after the answer.
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes()
}

/// The body of a raw `200` response; an error names the status or what is missing.
pub fn ok_body(response: &[u8]) -> Result<&[u8], String> {
    match crate::nats::args::http_status(response) {
        Some(200) => {}
        Some(code) => return Err(format!("HTTP status {code}")),
        None => return Err("no HTTP status line".into()),
    }
    let at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    Ok(&response[at + 4..])
}

/// One peer of the meta group as its leader reports it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct MetaPeer {
    pub name: String,
    #[serde(default)]
    pub current: bool,
    #[serde(default)]
    pub offline: bool,
}

/// `meta_cluster` of `/jsz`: the JetStream meta group as one node sees it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct MetaView {
    /// The leader's server name; empty while there is none.
    #[serde(default)]
    pub leader: String,
    #[serde(default)]
    pub cluster_size: usize,
    /// The other peers (the node itself is not listed).
    #[serde(default)]
    pub replicas: Vec<MetaPeer>,
}

#[derive(Deserialize)]
struct Jsz {
    #[serde(default)]
    meta_cluster: Option<MetaView>,
}

/// The meta group from a `/jsz` body; `None` when the server has no clustered JetStream (yet).
pub fn parse_jsz(body: &[u8]) -> Result<Option<MetaView>, String> {
    let jsz: Jsz = serde_json::from_slice(body).map_err(|err| format!("/jsz: {err}"))?;
    Ok(jsz.meta_cluster)
}

#[derive(Deserialize)]
struct Route {
    #[serde(default)]
    remote_name: String,
}

#[derive(Deserialize)]
struct Routez {
    #[serde(default)]
    routes: Vec<Route>,
}

/// The server names a node has routes to, from a `/routez` body (a route pool opens several
/// connections per peer; each name counts once).
pub fn parse_routez(body: &[u8]) -> Result<BTreeSet<String>, String> {
    let routez: Routez = serde_json::from_slice(body).map_err(|err| format!("/routez: {err}"))?;
    Ok(routez
        .routes
        .into_iter()
        .map(|r| r.remote_name)
        .filter(|name| !name.is_empty())
        .collect())
}

/// What one running node reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeView {
    pub meta: Option<MetaView>,
    pub routed_to: BTreeSet<String>,
}

/// The index of the node that reports itself as meta leader. Followers may name a stale leader
/// for a while after it died; the leader's own word is what counts. `views[i]` is `None` for a
/// node that is down or did not answer.
pub fn meta_leader(names: &[String], views: &[Option<NodeView>]) -> Result<usize, String> {
    let claims: Vec<usize> = views
        .iter()
        .enumerate()
        .filter(|(i, view)| {
            view.as_ref()
                .and_then(|v| v.meta.as_ref())
                .is_some_and(|m| !m.leader.is_empty() && names.get(*i) == Some(&m.leader))
        })
        .map(|(i, _)| i)
        .collect();
    match claims.as_slice() {
        [one] => Ok(*one),
        [] => Err("no node reports itself as the JetStream meta leader".into()),
        many => Err(format!("several nodes claim the meta leadership: {many:?}")),
    }
}

/// `Ok` when every node answers, is routed to every other node, and the meta leader counts all
/// of them as current peers of a group of their number; otherwise why not.
pub fn cluster_ready(names: &[String], views: &[Option<NodeView>]) -> Result<usize, String> {
    for (i, view) in views.iter().enumerate() {
        let Some(view) = view else {
            return Err(format!("{} does not answer", names[i]));
        };
        let missing: Vec<&String> = names
            .iter()
            .enumerate()
            .filter(|(j, name)| *j != i && !view.routed_to.contains(*name))
            .map(|(_, name)| name)
            .collect();
        if !missing.is_empty() {
            return Err(format!("{} has no route to {missing:?}", names[i]));
        }
    }
    let leader = meta_leader(names, views)?;
    let meta = views[leader]
        .as_ref()
        .and_then(|v| v.meta.as_ref())
        .ok_or("the leader has no meta group")?;
    if meta.cluster_size != names.len() {
        return Err(format!(
            "the meta group has {} peers, not {}",
            meta.cluster_size,
            names.len()
        ));
    }
    let current: BTreeSet<&str> = meta
        .replicas
        .iter()
        .filter(|p| p.current && !p.offline)
        .map(|p| p.name.as_str())
        .collect();
    let lagging: Vec<&String> = names
        .iter()
        .enumerate()
        .filter(|(j, name)| *j != leader && !current.contains(name.as_str()))
        .map(|(_, name)| name)
        .collect();
    if lagging.is_empty() {
        Ok(leader)
    } else {
        Err(format!("meta peers not current: {lagging:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["n0".into(), "n1".into(), "n2".into()]
    }

    fn view(leader: &str, size: usize, peers: &[(&str, bool)], routed: &[&str]) -> NodeView {
        NodeView {
            meta: Some(MetaView {
                leader: leader.into(),
                cluster_size: size,
                replicas: peers
                    .iter()
                    .map(|(name, current)| MetaPeer {
                        name: (*name).into(),
                        current: *current,
                        offline: false,
                    })
                    .collect(),
            }),
            routed_to: routed.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    #[test]
    fn the_body_of_an_ok_response() {
        assert_eq!(
            ok_body(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\n{}"),
            Ok(&b"{}"[..])
        );
        assert_eq!(
            ok_body(b"HTTP/1.1 503 Unavailable\r\n\r\n"),
            Err("HTTP status 503".into())
        );
        assert!(ok_body(b"HTTP/1.0 200 OK\r\n").is_err());
        assert!(ok_body(b"").is_err());
        assert!(String::from_utf8(get_request("/jsz")).is_ok_and(|r| r.starts_with("GET /jsz ")));
    }

    #[test]
    fn jsz_and_routez_as_nats_server_writes_them() {
        let jsz = br#"{"server_id":"X","meta_cluster":{"name":"c1","leader":"n2","peer":"a",
            "replicas":[{"name":"n0","current":true,"active":4756},{"name":"n1","current":false,
            "active":0,"lag":4,"peer":"b"}],"cluster_size":3,"quorum_needed":2}}"#;
        let meta = parse_jsz(jsz).expect("parse").expect("meta");
        assert_eq!(meta.leader, "n2");
        assert_eq!(meta.cluster_size, 3);
        assert_eq!(meta.replicas.len(), 2);
        assert!(meta.replicas[0].current && !meta.replicas[1].current);
        assert_eq!(parse_jsz(br#"{"streams":0}"#), Ok(None));
        assert!(parse_jsz(b"<html>").is_err());
        let routez = br#"{"num_routes":4,"routes":[{"remote_name":"n2"},{"remote_name":"n2"},
            {"remote_name":"n0"},{"rid":9}]}"#;
        let routed = parse_routez(routez).expect("parse");
        assert_eq!(routed.into_iter().collect::<Vec<_>>(), ["n0", "n2"]);
    }

    #[test]
    fn the_leader_is_the_node_that_names_itself() {
        let names = names();
        // n0 still names the dead n2; n1 names itself.
        let views = vec![
            Some(view("n2", 3, &[], &[])),
            Some(view("n1", 3, &[], &[])),
            None,
        ];
        assert_eq!(meta_leader(&names, &views), Ok(1));
        let none = vec![
            Some(view("n2", 3, &[], &[])),
            Some(view("", 3, &[], &[])),
            None,
        ];
        assert!(meta_leader(&names, &none).is_err());
        let two = vec![
            Some(view("n0", 3, &[], &[])),
            Some(view("n1", 3, &[], &[])),
            None,
        ];
        assert!(meta_leader(&names, &two).is_err());
    }

    #[test]
    fn ready_needs_full_routes_and_current_peers() {
        let names = names();
        let full = |leader: &str, me: &str, peers: &[(&str, bool)]| {
            let others: Vec<&str> = ["n0", "n1", "n2"]
                .into_iter()
                .filter(|n| *n != me)
                .collect();
            Some(view(leader, 3, peers, &others))
        };
        let ready = vec![
            full("n1", "n0", &[]),
            full("n1", "n1", &[("n0", true), ("n2", true)]),
            full("n1", "n2", &[]),
        ];
        assert_eq!(cluster_ready(&names, &ready), Ok(1));

        let mut lagging = ready.clone();
        lagging[1] = full("n1", "n1", &[("n0", true), ("n2", false)]);
        let why = cluster_ready(&names, &lagging).expect_err("n2 lags");
        assert!(why.contains("n2"), "{why}");

        let mut unrouted = ready.clone();
        unrouted[2] = Some(view("n1", 3, &[], &["n1"]));
        let why = cluster_ready(&names, &unrouted).expect_err("n2 lacks a route");
        assert!(
            why.contains("n2 has no route") && why.contains("n0"),
            "{why}"
        );

        let mut down = ready.clone();
        down[0] = None;
        assert!(cluster_ready(&names, &down).is_err());

        let mut small = ready;
        small[1] = Some(view("n1", 2, &[("n0", true)], &["n0", "n2"]));
        assert!(cluster_ready(&names, &small).is_err());
    }
}
