//! `render --explain` and the plan as JSON: what the plan holds, for
//! people and for machines.

use super::source_note;
use crate::tune::budget::human;
use crate::tune::{Plan, Role};

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
        let mut t = crate::table::new(&["setting", "value", "default", "rule", "apply"]);
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
        let mut t = crate::table::new(&["relation", "parameter", "value", "rule"]);
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
    out.push_str(&app_settings(plan));
    out
}

/// The application role's settings: what its new sessions get.
fn app_settings(plan: &Plan) -> String {
    let a = &plan.access;
    let title = format!(
        "settings of role {} in database {} (catalog.sql: ALTER ROLE … IN DATABASE … SET, read by each new connection of the role)",
        a.app_user, a.database
    );
    if plan.app_settings.is_empty() {
        return format!("\n{title}: none; catalog.sql resets any there are\n");
    }
    let mut t = crate::table::new(&["setting", "value", "default", "rule"]);
    for s in &plan.app_settings {
        let mut rule = s.rule.clone();
        if let Some(n) = source_note(&s.source) {
            rule = format!("{rule}; {n}");
        }
        t.add_row(vec![
            s.name.clone(),
            s.value.to_plain(),
            s.checked
                .as_ref()
                .and_then(|c| c.default.clone())
                .unwrap_or_default(),
            rule,
        ]);
    }
    format!("\n{title}:\n{t}\n")
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
