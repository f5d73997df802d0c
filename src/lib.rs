//! estune: tune, run and measure a PostgreSQL-backed event store on a
//! primary + streaming replica. The binary is a thin wrapper around
//! [`cli::run`], so integration tests drive the whole tool in-process.

pub mod apply;
pub mod atomic;
pub mod bench;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod db;
pub mod escape;
pub mod experiment;
pub mod export;
pub mod health;
pub mod inputs;
pub mod machine;
pub mod measure;
pub mod pgbin;
pub mod profile;
pub mod render;
pub mod report;
pub mod table;
pub mod tomlfile;
pub mod tune;
pub mod value;
pub mod window;
pub mod workload;
