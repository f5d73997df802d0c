//! `cluster status` for people (a table) and machines (JSON).

use super::ops::NodeStatus;
use super::ClusterState;
use crate::value::human;

/// `cluster status` for people.
pub fn table(state: &ClusterState, rows: &[NodeStatus]) -> String {
    let mut t = crate::table::new(&[
        "node",
        "role",
        "state",
        "version",
        "port",
        "replication",
        "lag",
        "memory used / limit",
        "data",
    ]);
    let opt = |b: Option<u64>| b.map(human).unwrap_or_else(|| "-".into());
    for r in rows {
        let mut state_text = r.state.clone();
        if r.runtime.oom_killed == Some(true) {
            state_text.push_str(", OOM-killed");
        }
        if let Some(n) = r.runtime.restarts.filter(|n| *n > 0) {
            state_text.push_str(&format!(", {n} restarts"));
        }
        if let Some(code) = r
            .runtime
            .exit_code
            .filter(|c| *c != 0 && !r.runtime.running)
        {
            state_text.push_str(&format!(", exit code {code}"));
        }
        t.add_row(vec![
            r.name.clone(),
            r.role.to_string(),
            state_text,
            r.version.clone(),
            format!("127.0.0.1:{}", r.port),
            r.replication.clone(),
            r.lag_bytes
                .map(|b| format!("{b} B"))
                .unwrap_or_else(|| "-".into()),
            format!(
                "{} / {}",
                opt(r.runtime.memory_usage),
                opt(r.runtime.memory_limit)
            ),
            r.data_size
                .map(|b| human(b.max(0) as u64))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut notes = String::new();
    for r in rows {
        if let Some(p) = &r.problem {
            notes.push_str(&format!("{} ({}): {p}\n", r.name, r.role));
        }
        if let Some(log) = r.log_tail.as_deref().filter(|l| !l.trim().is_empty()) {
            notes.push_str(&format!("  last log lines of {}:\n", r.name));
            for line in log.lines() {
                notes.push_str(&format!("    {line}\n"));
            }
        }
    }
    format!(
        "cluster {} ({} backend), profile {} (plan {})\n{t}\n{notes}",
        state.name,
        state.backend.as_str(),
        state.profile,
        state.plan_hash
    )
}

pub fn json(state: &ClusterState, rows: &[NodeStatus]) -> String {
    let doc = serde_json::json!({
        "schema": "estune.cluster-status/2",
        "cluster": state.name,
        "backend": state.backend,
        "profile": state.profile,
        "plan_hash": state.plan_hash,
        "nodes": rows,
    });
    serde_json::to_string_pretty(&doc).expect("status serializes") + "\n"
}
