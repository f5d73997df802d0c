//! Names, labels and paths of the Docker objects of a cluster. Labels are
//! what `remove` goes by, so leftovers of a crashed run are found too.

use std::collections::HashMap;

pub const CLUSTER_LABEL: &str = "estune.cluster";
/// The node's name ("pg1"); roles move between nodes, names do not.
pub const NODE_LABEL: &str = "estune.node";
/// On one-off containers, what they ran (initdb, basebackup, …).
pub const TASK_LABEL: &str = "estune.task";

/// Where the volume is mounted. The data directory is a subdirectory, so
/// initdb and pg_basebackup get an empty directory they own rather than a
/// mount point (initdb refuses a mount point holding `lost+found`).
pub const VOLUME_MOUNT: &str = "/var/lib/postgresql/estune";
pub const DATA_DIR: &str = "/var/lib/postgresql/estune/data";
/// The port inside the container; the host side is the node's host_port.
pub const PG_PORT: u16 = 5432;
/// A directory every image has; one-off containers get their secret files
/// here, which disappear with the container.
pub const SECRETS_DIR: &str = "/tmp";

pub fn network(cluster: &str) -> String {
    format!("estune-{cluster}")
}

pub fn volume(cluster: &str, node: &str) -> String {
    format!("estune-{cluster}-{node}")
}

/// Also the node's name on the cluster network.
pub fn container(cluster: &str, node: &str) -> String {
    format!("estune-{cluster}-{node}")
}

/// A one-off container doing `task` for a node; named so a person can tell
/// what a leftover was doing.
pub fn task_container(cluster: &str, node: &str, task: &str) -> String {
    format!("estune-{cluster}-{node}-{task}")
}

pub fn cluster_labels(cluster: &str) -> HashMap<String, String> {
    HashMap::from([(CLUSTER_LABEL.to_string(), cluster.to_string())])
}

pub fn node_labels(cluster: &str, node: &str) -> HashMap<String, String> {
    let mut labels = cluster_labels(cluster);
    labels.insert(NODE_LABEL.to_string(), node.to_string());
    labels
}

/// The `filters` argument of Docker's list calls selecting one cluster.
pub fn cluster_filter(cluster: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{CLUSTER_LABEL}={cluster}")],
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_cluster_and_node() {
        let cases = [
            (network("a"), "estune-a"),
            (volume("a", "pg1"), "estune-a-pg1"),
            (container("a", "pg2"), "estune-a-pg2"),
            (
                task_container("a", "pg2", "basebackup"),
                "estune-a-pg2-basebackup",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn the_data_directory_is_inside_the_mount() {
        let parent = std::path::Path::new(DATA_DIR).parent();
        assert_eq!(parent, Some(std::path::Path::new(VOLUME_MOUNT)));
    }

    #[test]
    fn node_labels_carry_the_cluster() {
        let labels = node_labels("c", "pg1");
        assert_eq!(labels[CLUSTER_LABEL], "c");
        assert_eq!(labels[NODE_LABEL], "pg1");
        assert_eq!(
            cluster_filter("c")["label"],
            vec!["estune.cluster=c".to_string()]
        );
    }
}
