//! Which servers a command talks to: a managed cluster (`--cluster NAME
//! [--state-dir DIR]`) or any pair (`--primary DSN [--replica DSN]`, PG*
//! variables and the password file filling what a DSN leaves out).

use super::cluster::ClusterArgs;
use crate::cluster::ops;
pub use crate::measure::Endpoints;
use crate::measure::{Managed, Pair};
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

impl ConnectArgs {
    pub fn managed(&self) -> bool {
        self.primary.is_none()
    }

    pub fn endpoints(&self) -> anyhow::Result<Endpoints> {
        Ok(self.pair()?.endpoints)
    }

    /// The endpoints, and what a managed cluster knows about itself.
    pub fn pair(&self) -> anyhow::Result<Pair> {
        if let Some(p) = &self.primary {
            let both = [Some(p.clone()), self.replica.clone()];
            let endpoints = Endpoints {
                app: both.clone(),
                admin: both,
            };
            return Ok(Pair {
                endpoints,
                managed: None,
            });
        }
        let dir = self.cluster.dir();
        let state = dir.load(&self.cluster.cluster)?;
        // The superuser on the event store's database: the samplers and
        // probes read its tables' statistics and its cache hit ratio.
        let db = Some(state.database.as_str());
        let url = |role, superuser| ops::url_on(&state, &dir, role, superuser, true, db).map(Some);
        // The application's connections name both nodes, as applications
        // do, so bench and seed workers that lose their server on a
        // switchover or failover find the role's new holder; the admin
        // ones measure one server each.
        let app = |role| ops::any_node_url(&state, &dir, role, false, true, db).map(Some);
        let endpoints = Endpoints {
            app: [app(Role::Primary)?, app(Role::Replica)?],
            admin: [url(Role::Primary, true)?, url(Role::Replica, true)?],
        };
        Ok(Pair {
            endpoints,
            managed: Some(Managed::at(&state, &dir)),
        })
    }
}
