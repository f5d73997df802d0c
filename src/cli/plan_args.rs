//! Flags that shape a plan, shared by render, cluster up and apply.

use clap::Args;
use std::path::PathBuf;

pub fn parse_size(s: &str) -> Result<u64, String> {
    crate::value::parse_size(s).map_err(|e| e.to_string())
}

fn parse_rows(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a number of rows: give the events one command's boundary typically holds, 1 or more"
        )),
    }
}

pub fn parse_cpus(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(c) if c > 0.0 && c <= 1024.0 => Ok(c),
        _ => Err(format!(
            "`{s}` is not a CPU count: give a number above 0, e.g. 2 or 0.5"
        )),
    }
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Memory limit of each server, e.g. 4GiB or 4096MB (binary units);
    /// overrides the profile
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub memory: Option<u64>,
    /// CPUs of each server, e.g. 2 or 0.5; overrides the profile
    #[arg(long, value_parser = parse_cpus, value_name = "N")]
    pub cpus: Option<f64>,
    /// Accept a worst-case memory budget above the limit (a warning
    /// instead of an error)
    #[arg(long)]
    pub allow_overcommit: bool,
    /// Directory whose templates replace the built-in ones, file by file
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Events a command's boundary typically holds, for both roles
    /// (replaces the profile's workload.boundary_rows): with boundaries
    /// smaller than the square root of expected_events, eventstore turns
    /// index scans off for the application's sessions
    #[arg(long, value_parser = parse_rows, value_name = "N")]
    pub boundary_rows: Option<u64>,
    /// Directory searched for profiles by name before the built-in ones
    /// [default: ./profiles when it exists]
    #[arg(long, value_name = "DIR", env = "ESTUNE_PROFILES")]
    pub profiles_dir: Option<PathBuf>,
}

impl PlanArgs {
    /// Loads a profile by name (profiles dir, then built-in) or path.
    pub fn load_profile(
        &self,
        spec: &str,
    ) -> Result<crate::profile::Profile, crate::profile::ProfileError> {
        let search = self
            .profiles_dir
            .clone()
            .or_else(|| Some(PathBuf::from("profiles")).filter(|p| p.is_dir()));
        let mut p = crate::profile::load(spec, search.as_deref())?;
        if let Some(n) = self.boundary_rows {
            p.primary.workload.boundary_rows = n;
            p.replica.workload.boundary_rows = n;
        }
        Ok(p)
    }
}
