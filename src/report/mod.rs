//! Output in one place: tables for people, JSON for machines, both pure
//! functions of the data; and files written atomically (temp file in the
//! same directory, then rename), so a failure never leaves half a file.

use crate::render::source_note;
use crate::tune::budget::human;
use crate::tune::{Plan, Role};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use std::io::{self, Write};
use std::path::Path;

/// Writes `contents` to `path` so that readers see the old file or the new
/// one, never a mix. The directory is created if missing.
pub fn write_atomic(path: &Path, contents: &str) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".estune-")
        .tempfile_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if !io::IsTerminal::is_terminal(&io::stdout()) {
        t.set_width(160);
    }
    t
}

/// `render --explain`: per role, every setting with its rule, then the
/// budget arithmetic and warnings; then the catalog tuning.
pub fn explain(plan: &Plan, roles: &[Role]) -> String {
    let mut out = format!(
        "profile {} ({}), method {}, PostgreSQL {}, plan {}\n{}\n",
        plan.profile,
        plan.profile_files.join(" extends "),
        plan.method.as_str(),
        plan.pg_version,
        plan.hash,
        plan.catalog
            .as_deref()
            .unwrap_or("not validated against a catalog"),
    );
    for role in roles {
        let r = plan.role(*role);
        out.push_str(&format!(
            "\n{} — memory {} ({}), {} CPUs ({}), {} storage, pool {}\n",
            r.role,
            human(r.inputs.memory.value),
            r.inputs.memory.source,
            r.inputs.cpus.value,
            r.inputs.cpus.source,
            r.inputs.storage,
            r.inputs.connections
        ));
        let mut t = table(&["setting", "value", "default", "rule", "apply"]);
        for s in &r.settings {
            let mut rule = s.rule.clone();
            if let Some(n) = source_note(&s.source) {
                rule = format!("{rule}; {n}");
            }
            let c = s.checked.as_ref();
            t.add_row(vec![
                s.name.clone(),
                s.value.to_plain(),
                c.and_then(|c| c.default.clone()).unwrap_or_default(),
                rule,
                c.map(|c| c.apply.to_string()).unwrap_or_else(|| "?".into()),
            ]);
        }
        out.push_str(&format!(
            "{t}\nworst-case memory:\n{}\n",
            r.budget.arithmetic()
        ));
        for w in &r.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
    }
    if !plan.relations.is_empty() {
        let mut t = table(&["relation", "parameter", "value", "rule"]);
        for rel in &plan.relations {
            for s in &rel.options {
                t.add_row(vec![
                    rel.name.clone(),
                    s.name.clone(),
                    s.value.to_plain(),
                    s.rule.clone(),
                ]);
            }
            for s in &rel.statistics {
                t.add_row(vec![
                    rel.name.clone(),
                    format!("{} statistics", s.name),
                    s.value.to_plain(),
                    s.rule.clone(),
                ]);
            }
        }
        out.push_str(&format!(
            "\ncatalog tuning (catalog.sql, applied on the primary):\n{t}\n"
        ));
    }
    out
}

/// `cluster status` for people.
pub fn cluster_status(
    state: &crate::cluster::ClusterState,
    rows: &[crate::cluster::ops::NodeStatus],
) -> String {
    let mut t = table(&[
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
    format!(
        "cluster {} ({} backend), profile {} (plan {})\n{t}\n",
        state.name,
        state.backend.as_str(),
        state.profile,
        state.plan_hash
    )
}

pub fn cluster_status_json(
    state: &crate::cluster::ClusterState,
    rows: &[crate::cluster::ops::NodeStatus],
) -> String {
    let doc = serde_json::json!({
        "schema": "estune.cluster-status/1",
        "cluster": state.name,
        "backend": state.backend,
        "profile": state.profile,
        "plan_hash": state.plan_hash,
        "nodes": rows,
    });
    serde_json::to_string_pretty(&doc).expect("status serializes") + "\n"
}

/// `apply`: the changes, then what was done (or is left to do).
pub fn apply_table(r: &crate::apply::ApplyReport) -> String {
    let mut out = format!("profile {} (plan {})\n", r.profile, r.plan_hash);
    if r.changes.is_empty() {
        out.push_str("no setting changes: the servers already run this plan\n");
    } else {
        let mut t = table(&["server", "setting", "live", "planned", "takes effect by"]);
        for c in &r.changes {
            t.add_row(vec![
                c.role.to_string(),
                c.name.clone(),
                c.live.clone(),
                c.planned.clone(),
                c.apply.to_string(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    let roles = |v: &[crate::tune::Role]| {
        v.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", then ")
    };
    if r.dry_run {
        out.push_str("dry run: nothing was changed\n");
    } else {
        if !r.restarted.is_empty() {
            out.push_str(&format!("restarted: {}\n", roles(&r.restarted)));
        }
        if !r.reloaded.is_empty() {
            out.push_str(&format!("reloaded: {}\n", roles(&r.reloaded)));
        }
        if !r.memory_changed.is_empty() {
            out.push_str(&format!(
                "memory limit changed: {}\n",
                roles(&r.memory_changed)
            ));
        }
        if let Some(b) = &r.backup {
            out.push_str(&format!(
                "previous files kept in {} (`estune apply --rollback` restores them)\n",
                b.display()
            ));
        }
    }
    for t in &r.todo {
        out.push_str(&format!("to do: {t}\n"));
    }
    out
}

pub fn apply_json(r: &crate::apply::ApplyReport) -> String {
    let doc = serde_json::json!({"schema": "estune.apply/1", "report": r});
    serde_json::to_string_pretty(&doc).expect("report serializes") + "\n"
}

/// The plan as versioned JSON.
pub fn plan_json(plan: &Plan) -> String {
    let doc = serde_json::json!({
        "schema": "estune.plan/1",
        "estune_version": env!("CARGO_PKG_VERSION"),
        "plan": plan,
    });
    serde_json::to_string_pretty(&doc).expect("a plan always serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.conf");
        write_atomic(&p, "one\n").unwrap();
        write_atomic(&p, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two\n");
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".estune-"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
