//! The apply report for people (a table) and machines (JSON).

use super::ApplyReport;

/// `apply`: the changes, then what was done (or is left to do).
pub fn table(r: &ApplyReport) -> String {
    let mut out = format!("profile {} (plan {})\n", r.profile, r.plan_hash);
    if r.changes.is_empty() {
        out.push_str("no setting changes: the servers already run this plan\n");
    } else {
        let mut t = crate::table::new(&["server", "setting", "live", "planned", "takes effect by"]);
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
    out.push_str(&catalog(r));
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

/// The catalog rows: what catalog.sql changes on the primary, a note when
/// there are no event tables to compare, and one when the application
/// role's settings change (they reach new connections only).
fn catalog(r: &ApplyReport) -> String {
    let mut out = String::new();
    if let Some(note) = &r.catalog_note {
        out.push_str(&format!("catalog: {note}\n"));
    }
    if !r.catalog.is_empty() {
        let mut t = crate::table::new(&["relation", "parameter", "live", "planned"]);
        for c in &r.catalog {
            t.add_row(vec![
                c.relation.clone(),
                c.parameter.clone(),
                c.live.clone(),
                c.planned.clone(),
            ]);
        }
        out.push_str(&format!(
            "{t}\ncatalog.sql changes these on the primary; the replica follows through WAL\n"
        ));
    } else if r.catalog_note.is_none() {
        out.push_str("no catalog changes: the event tables already have this profile's storage parameters and statistics targets, and the application role its settings\n");
    }
    if let Some(note) = &r.reconnect {
        out.push_str(&format!("{note}\n"));
    }
    out
}

pub fn json(r: &ApplyReport) -> String {
    let doc = serde_json::json!({"schema": "estune.apply/1", "report": r});
    serde_json::to_string_pretty(&doc).expect("report serializes") + "\n"
}
