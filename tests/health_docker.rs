//! `estune health` on a docker pair: memory use against the container
//! limit, OOM-kill state and the plan's worst case come from the backend
//! (here the stock profile's, allowed over a 1 GiB limit: CRIT).

mod support;

use serde_json::Value;
use std::process::Command;
use support::TestCluster;

/// Removes what the engine still has for the cluster, should the CLI's
/// own `down --purge` (run by TestCluster) not have.
struct DockerLeftovers(String);

impl Drop for DockerLeftovers {
    fn drop(&mut self) {
        let label = format!("label=estune.cluster={}", self.0);
        for (list, rm) in [
            (&["ps", "-a"][..], &["rm", "-f", "-v"][..]),
            (&["network", "ls"][..], &["network", "rm"][..]),
            (&["volume", "ls"][..], &["volume", "rm", "-f"][..]),
        ] {
            let out = Command::new("docker")
                .args(list)
                .args(["-q", "--filter", &label])
                .output();
            let ids: Vec<String> = out
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .split_whitespace()
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            if !ids.is_empty() {
                let _ = Command::new("docker").args(rm).args(&ids).output();
            }
        }
    }
}

#[test]
fn memory_against_the_container_limit() {
    // For developer machines without Docker only; CI never sets it.
    if std::env::var("ESTUNE_SKIP_DOCKER").is_ok_and(|v| v == "1") {
        return;
    }
    let c = TestCluster::new("hdk");
    let _leftovers = DockerLeftovers(c.name.clone());
    c.up(&[
        "--backend",
        "docker",
        "--profile",
        "stock",
        "--memory",
        "1GiB",
        "--allow-overcommit",
    ]);
    let out = c.run(&["health", "--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("docker pair: all probes took {} ms", doc["probe_ms"]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    for s in doc["snapshot"]["servers"].as_array().unwrap() {
        let m = &s["memory"];
        assert_eq!(m["limit_bytes"], 1u64 << 30, "{m:#}");
        let usage = m["usage_bytes"].as_u64().unwrap();
        assert!(usage > 0 && usage < 1 << 30, "{m:#}");
        assert_eq!(m["oom_killed"], false);
        assert!(m["budget_bytes"].as_u64().unwrap() > 0);
    }
    let findings = doc["findings"].as_array().unwrap();
    let of =
        |check: &str| -> Vec<&Value> { findings.iter().filter(|f| f["check"] == check).collect() };
    let usage = of("usage");
    assert_eq!(usage.len(), 2);
    for f in usage {
        assert_eq!(f["status"], "OK", "{f:#}");
        assert!(f["value"].as_str().unwrap().contains("of 1 GiB"), "{f:#}");
    }
    let budget = of("worst_case_budget");
    assert!(budget.iter().all(|f| f["status"] == "CRIT"), "{budget:#?}");
    let bad: Vec<_> = findings.iter().filter(|f| f["status"] != "OK").collect();
    assert_eq!(bad.len(), 2, "only the budget: {bad:#?}");

    let tight = c.run(&[
        "health",
        "--format",
        "nagios",
        "--set",
        "memory.usage_warn=0.1%",
    ]);
    let line = String::from_utf8_lossy(&tight.stdout);
    assert!(
        line.contains("WARN primary usage") && line.contains("WARN replica usage"),
        "{line}"
    );
}
