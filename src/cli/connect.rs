//! Which servers a command talks to: a managed cluster (`--cluster NAME
//! [--state-dir DIR]`) or any pair (`--primary DSN [--replica DSN]`, PG*
//! variables and the password file filling what a DSN leaves out).

use super::cluster::ClusterArgs;
use crate::cluster::ops;
use crate::tune::Role;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Any primary instead of a managed cluster (libpq URL or key=value)
    #[arg(long, value_name = "DSN", env = "ESTUNE_PRIMARY")]
    pub primary: Option<String>,
    /// Its replica
    #[arg(long, value_name = "DSN", env = "ESTUNE_REPLICA", requires = "primary")]
    pub replica: Option<String>,
}

/// Connection strings for both servers.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// As the application: the event-store database and role.
    pub app: [Option<String>; 2],
    /// As a superuser on the application's database, for samplers and
    /// health probes.
    pub admin: [Option<String>; 2],
}

impl ConnectArgs {
    pub fn managed(&self) -> bool {
        self.primary.is_none()
    }

    pub fn endpoints(&self) -> anyhow::Result<Endpoints> {
        if let Some(p) = &self.primary {
            let both = [Some(p.clone()), self.replica.clone()];
            return Ok(Endpoints {
                app: both.clone(),
                admin: both,
            });
        }
        let dir = self.cluster.dir();
        let state = dir.load(&self.cluster.cluster)?;
        // The superuser on the event store's database: the samplers and
        // probes read its tables' statistics and its cache hit ratio.
        let db = Some(state.database.as_str());
        let url = |role, superuser| ops::url_on(&state, &dir, role, superuser, true, db).map(Some);
        Ok(Endpoints {
            app: [url(Role::Primary, false)?, url(Role::Replica, false)?],
            admin: [url(Role::Primary, true)?, url(Role::Replica, true)?],
        })
    }
}
