//! `--explain-slow`: for one run, the workers' sessions log the plans of
//! executions slower than a threshold (`auto_explain`), and the result
//! keeps the slowest plans per statement, read back from the server log.
//!
//! The application role may not `LOAD` auto_explain (it is not under
//! `$libdir/plugins`) nor set its SUSET parameters, so the superuser sets
//! them for the role in its database (`ALTER ROLE … IN DATABASE … SET
//! session_preload_libraries = 'auto_explain'`, with the threshold) before
//! the workers connect: every session the workers open, on the primary and
//! on the replica (the catalog replicates), loads it; the samplers and
//! everything else do not. The settings are reset as soon as the load
//! ends, whatever happened; `estune.explain_slow` marks them as estune's,
//! so that a run that could not reset them (killed, second Ctrl-C) has
//! them removed by the next run.

use super::{LoadError, Pair, CONNECT};
use crate::bench::statements::{parse_slow_plans, window_text};
use crate::bench::RunResult;
use std::time::Duration;
use tokio_postgres::Client;

/// The role setting that marks the others as estune's.
const MARK: &str = "estune.explain_slow";
/// Lines of the server log read back: plans are some 10 to 40 lines each,
/// so this holds thousands of them and the window's markers.
const LOG_LINES: usize = 500_000;

/// The auto_explain settings of one run, in force until [`Self::disable`].
pub struct ExplainSlow {
    admin: Client,
    role: String,
    database: String,
    /// Marks the window in the server logs and the role settings.
    pub token: String,
    pub threshold_ms: u64,
}

fn sql_err(what: &str) -> impl Fn(tokio_postgres::Error) -> anyhow::Error + '_ {
    move |e| {
        let msg = e
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_else(|| e.to_string());
        anyhow::anyhow!("{what}: {msg}")
    }
}

/// `ALTER ROLE … RESET` of every key, for the role and database in the
/// session settings `estune.explain_role` / `estune.explain_db`.
const RESET: &str = "DO $$ DECLARE k text; BEGIN
  FOREACH k IN ARRAY ARRAY['session_preload_libraries', 'auto_explain.log_min_duration',
                           'auto_explain.log_verbose', 'estune.explain_slow'] LOOP
    EXECUTE format('ALTER ROLE %I IN DATABASE %I RESET %s',
      current_setting('estune.explain_role'), current_setting('estune.explain_db'), k);
  END LOOP; END $$";

async fn reset(admin: &Client, role: &str, database: &str) -> anyhow::Result<()> {
    admin
        .execute(
            "SELECT set_config('estune.explain_role', $1, false), set_config('estune.explain_db', $2, false)",
            &[&role, &database],
        )
        .await
        .map_err(sql_err("preparing the reset of the auto_explain settings"))?;
    admin
        .batch_execute(RESET)
        .await
        .map_err(sql_err("resetting the auto_explain settings"))
}

/// Whether `--explain-slow` can run on this pair: before anything
/// connects, so a pair given by connection strings is refused at once.
pub fn check(pair: &Pair, threshold: Duration) -> Result<(), LoadError> {
    if pair
        .managed
        .as_ref()
        .and_then(|m| m.state_dir.as_ref())
        .is_none()
    {
        return Err(LoadError(
            "--explain-slow reads the logged plans from the servers' logs, which estune reaches only for a managed cluster (--cluster); for a pair given by --primary/--replica set auto_explain on the servers and read their logs yourself".into(),
        ));
    }
    if threshold < Duration::from_millis(1) {
        return Err(LoadError(
            "--explain-slow: give a threshold of 1ms or more (at 0 every statement would be logged)"
                .into(),
        ));
    }
    Ok(())
}

/// Removes the settings a run left behind when it could not reset them
/// (they are recognised by [`MARK`]); says so on stderr. A server that
/// cannot be asked is left as it is: the run goes on without it.
pub async fn remove_leftovers(admin_url: &str) {
    let Ok(admin) = crate::db::connect(admin_url, CONNECT).await else {
        return;
    };
    let pattern = format!("{MARK}=%");
    let Ok(rows) = admin
        .query(
            "SELECT r.rolname::text, d.datname::text FROM pg_db_role_setting s
               JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d ON d.oid = s.setdatabase
              WHERE EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE c LIKE $1)",
            &[&pattern],
        )
        .await
    else {
        return;
    };
    for r in rows {
        let (role, db): (String, String) = (r.get(0), r.get(1));
        match reset(&admin, &role, &db).await {
            Ok(()) => eprintln!(
                "note: removed the auto_explain settings an interrupted `--explain-slow` run left on role {role} in database {db}"
            ),
            Err(e) => eprintln!(
                "warning: role {role} in database {db} still has the auto_explain settings of an interrupted `--explain-slow` run ({e:#}); as a superuser: ALTER ROLE {role} IN DATABASE {db} RESET session_preload_libraries (and auto_explain.log_min_duration, auto_explain.log_verbose, {MARK})"
            ),
        }
    }
}

impl ExplainSlow {
    /// Sets auto_explain for the application's role in its database and
    /// waits until the replica has the setting too. Refused for a pair
    /// given by connection strings (its logs are out of reach) and when
    /// the role's sessions already preload a library (it would be
    /// replaced).
    pub async fn enable(pair: &Pair, threshold: Duration) -> anyhow::Result<ExplainSlow> {
        check(pair, threshold)?;
        let threshold_ms = threshold.as_millis() as u64;
        let ep = &pair.endpoints;
        let app = crate::db::connect(ep.primary_app(), CONNECT).await?;
        let row = app
            .query_one("SELECT current_user::text, current_database()::text", &[])
            .await?;
        let (role, database): (String, String) = (row.get(0), row.get(1));
        let admin = crate::db::connect(ep.primary_admin(), CONNECT).await?;
        refuse_other_preloads(&admin, &role, &database).await?;
        let token = format!("{:016x}", rand::random::<u64>());
        admin
            .execute(
                "SELECT set_config('estune.explain_role', $1, false), set_config('estune.explain_db', $2, false),
                        set_config('estune.explain_ms', $3, false), set_config('estune.explain_token', $4, false)",
                &[&role, &database, &threshold_ms.to_string(), &token],
            )
            .await
            .map_err(sql_err("preparing the auto_explain settings"))?;
        admin
            .batch_execute(
                "DO $$ DECLARE r text := current_setting('estune.explain_role');
                               d text := current_setting('estune.explain_db'); BEGIN
                   EXECUTE format('ALTER ROLE %I IN DATABASE %I SET session_preload_libraries = %L', r, d, 'auto_explain');
                   EXECUTE format('ALTER ROLE %I IN DATABASE %I SET auto_explain.log_min_duration = %L', r, d, current_setting('estune.explain_ms'));
                   EXECUTE format('ALTER ROLE %I IN DATABASE %I SET auto_explain.log_verbose = on', r, d);
                   EXECUTE format('ALTER ROLE %I IN DATABASE %I SET estune.explain_slow = %L', r, d, current_setting('estune.explain_token'));
                 END $$",
            )
            .await
            .map_err(sql_err("setting auto_explain for the application's role (as a superuser)"))?;
        let e = ExplainSlow {
            admin,
            role,
            database,
            token,
            threshold_ms,
        };
        if let Some(url) = &ep.admin[1] {
            // The workers' replica sessions must see the setting too.
            let replayed = match crate::db::connect(url, CONNECT).await {
                Ok(replica) => crate::cluster::bringup::wait_replayed(&e.admin, &replica)
                    .await
                    .map_err(anyhow::Error::from),
                Err(err) => Err(err.into()),
            };
            if let Err(err) = replayed {
                let _ = e.disable().await;
                return Err(
                    err.context("waiting for the replica to replay the auto_explain settings")
                );
            }
        }
        Ok(e)
    }

    /// Resets every setting [`Self::enable`] made.
    pub async fn disable(&self) -> anyhow::Result<()> {
        reset(&self.admin, &self.role, &self.database).await
    }

    /// The warning when [`Self::disable`] failed, with what to run.
    pub fn leftover_warning(&self, e: &anyhow::Error) -> String {
        format!(
            "warning: the auto_explain settings of this run could not be reset ({e:#}); the next estune bench removes them, or as a superuser: ALTER ROLE {} IN DATABASE {} RESET session_preload_libraries (and auto_explain.log_min_duration, auto_explain.log_verbose, {MARK})",
            self.role, self.database
        )
    }

    /// Reads each server's log and records its slowest plans of the
    /// window in the result (or why they could not be read).
    pub async fn read_plans(&self, pair: &Pair, result: &mut RunResult) {
        let Some(st) = result.statements.as_mut() else {
            return;
        };
        let logs = server_logs(pair).await;
        for s in &mut st.servers {
            let found = logs.as_ref().map_err(|e| format!("{e:#}")).and_then(|l| {
                let text = l
                    .iter()
                    .find(|(role, _)| *role == s.role)
                    .map(|(_, text)| text)
                    .ok_or_else(|| format!("no log of the {}", s.role))?;
                Ok(parse_slow_plans(window_text(text, &self.token)?))
            });
            match found {
                Ok(p) => {
                    s.slow_plans = Some(p);
                    s.slow_plans_missing = None;
                }
                Err(e) => s.slow_plans_missing = Some(e),
            }
        }
    }
}

/// Each server's log (the last [`LOG_LINES`] lines), by role.
async fn server_logs(pair: &Pair) -> anyhow::Result<Vec<(String, String)>> {
    use crate::tune::Role;
    let m = pair
        .managed
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("not a managed cluster"))?;
    let dir = m
        .state_dir
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the cluster's state directory is not known"))?;
    let state = dir.load(&m.cluster)?;
    let backend = crate::cluster::ops::open_backend(&state, dir)?;
    let mut out = Vec::new();
    for role in Role::BOTH {
        let text = backend.logs(state.node(role), LOG_LINES).await?;
        out.push((role.as_str().to_string(), text));
    }
    Ok(out)
}

/// A library the role's sessions already preload would be replaced by
/// auto_explain for the run: refused, with what is set where.
async fn refuse_other_preloads(admin: &Client, role: &str, database: &str) -> anyhow::Result<()> {
    let server: String = admin
        .query_one(
            "SELECT current_setting($1)",
            &[&"session_preload_libraries"],
        )
        .await?
        .get(0);
    let mut found = Vec::new();
    if !server.trim().is_empty() {
        found.push(format!(
            "session_preload_libraries = '{server}' in the server's configuration"
        ));
    }
    let rows = admin
        .query(
            "SELECT coalesce(r.rolname::text, 'every role'), coalesce(d.datname::text, 'every database'), c
               FROM pg_db_role_setting s
               LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase,
               unnest(s.setconfig) c
              WHERE s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = $1))
                AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = $2))
                AND (c LIKE 'session_preload_libraries=%' OR c LIKE 'auto_explain.%')",
            &[&role, &database],
        )
        .await?;
    for r in rows {
        let (who, db, setting): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        found.push(format!("{setting} for {who} in {db}"));
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(LoadError(format!(
        "--explain-slow sets session_preload_libraries and auto_explain for role {role} in database {database} for the run, which would replace what is set already: {}; remove that first or run without --explain-slow",
        found.join("; ")
    ))
    .into())
}
