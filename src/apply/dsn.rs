//! A pair estune does not manage, given by connection strings: the same
//! diff (settings and catalog), and with `--alter-system` the settings
//! written through SQL; what needs a restart or catalog.sql is left to do.

use super::{catalog_diff, diff, ApplyOptions, ApplyReport};
use crate::catalog::Catalog;
use crate::tune::Role;

/// An unmanaged pair: estune can read it but not write its files. With
/// `alter_system` it writes through ALTER SYSTEM and reloads; what needs a
/// restart is listed for the user to do.
pub async fn apply_dsn(
    primary: &str,
    replica: Option<&str>,
    o: ApplyOptions,
    alter_system: bool,
) -> anyhow::Result<ApplyReport> {
    let timeout = std::time::Duration::from_secs(5);
    let p = crate::db::connect(primary, timeout).await?;
    let catalog = Catalog::from_client(&p, &crate::db::server_label(primary)).await?;
    let res = crate::inputs::resources_both(&o.profile, o.memory, o.cpus);
    let plan = crate::inputs::checked_plan(&o.profile, res, &catalog, o.allow_overcommit)?;
    let mut report = ApplyReport {
        profile: plan.profile.clone(),
        plan_hash: plan.hash.clone(),
        dry_run: o.dry_run || !alter_system,
        ..Default::default()
    };
    let mut servers = vec![(Role::Primary, primary.to_string(), p)];
    if let Some(r) = replica {
        servers.push((
            Role::Replica,
            r.to_string(),
            crate::db::connect(r, timeout).await?,
        ));
    }
    for (role, _, c) in &servers {
        report.changes.extend(diff::diff(
            plan.role(*role),
            &diff::live(c).await?,
            &catalog,
        ));
    }
    let place = crate::db::server_label(primary);
    catalog_diff(&mut report, &servers[0].2, &plan, &catalog, &place).await?;
    if !o.dry_run && !report.catalog.is_empty() {
        report.todo.push("run catalog.sql on the primary's event-store database for the catalog changes (`estune render -o DIR` writes it; psql -f DIR/catalog.sql): estune does not change the catalog of a server it does not manage".into());
    }
    if report.dry_run {
        if !o.dry_run {
            report.todo.push("estune cannot write the files of a server it does not manage: render them with `estune render -o DIR` and install them, or pass --alter-system to write postgresql.auto.conf through SQL".into());
        }
        return Ok(report);
    }
    for (role, dsn, c) in &servers {
        for change in report
            .changes
            .iter()
            .filter(|ch| ch.role == *role && !ch.planned.starts_with("default ("))
        {
            let s = plan
                .role(*role)
                .get(&change.name)
                .expect("a change of a planned setting");
            // ALTER SYSTEM takes no parameters and runs in no transaction or
            // function; the name is a catalog-checked parameter and the
            // value a validated plan value, quoted as a literal.
            let value = s.value.to_plain().replace('\'', "''");
            c.batch_execute(&format!("ALTER SYSTEM SET \"{}\" TO '{value}'", s.name))
                .await?;
        }
        c.execute("SELECT pg_reload_conf()", &[]).await?;
        report.reloaded.push(*role);
        let restart: Vec<&str> = report
            .changes
            .iter()
            .filter(|ch| ch.role == *role && ch.apply == "restart")
            .map(|ch| ch.name.as_str())
            .collect();
        if !restart.is_empty() {
            report.todo.push(format!(
                "restart the {role} ({}): {} take effect only when the server starts{}",
                crate::db::server_label(dsn),
                restart.join(", "),
                if *role == Role::Primary { "; restart the replica first when raising max_connections and similar, the primary first when lowering them" } else { "" }
            ));
        }
    }
    Ok(report)
}
