//! `scripts/bench/lend.pgbench` is what the estune-vs-pgbench benchmark
//! runs, and `lend-newer-than-read.pgbench` is the same with the
//! newer-than-read guard; each must send the statements estune sends. This
//! test rebuilds estune's two statements of LendBookCopyToReader from the
//! library code and compares them with each script's, pgbench's
//! expressions mapped back to estune's parameters.

use estune::workload::{append_sql, lend_filter, query_sql, Guard, Param};

const SCRIPTS: [(&str, &str, Guard); 2] = [
    (
        "lend.pgbench",
        include_str!("../scripts/bench/lend.pgbench"),
        Guard::MaxEquals,
    ),
    (
        "lend-newer-than-read.pgbench",
        include_str!("../scripts/bench/lend-newer-than-read.pgbench"),
        Guard::NoneNewerThan,
    ),
];

fn squash(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace(" )", ")")
}

/// The script's SQL statements (comments and meta-commands left out).
fn statements(script: &str) -> Vec<String> {
    let sql: Vec<&str> = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--") && !l.trim_start().starts_with('\\'))
        .collect();
    sql.join("\n")
        .split(['\\', ';'])
        .map(|s| s.trim_start_matches("aset"))
        .map(squash)
        .filter(|s| !s.is_empty())
        .collect()
}

const BOOK: &str =
    "jsonb_build_object('BookID', uuid_generate_v5(uuid_ns_url(), 'book-' || :b))::jsonb";
const READER: &str =
    "jsonb_build_object('ReaderID', uuid_generate_v5(uuid_ns_url(), 'reader-' || :r))::jsonb";

/// The script's append with pgbench's expressions replaced by estune's
/// parameters: $1-$3 the filter's, $4-$7 type, time, payload and metadata,
/// $8 the max sequence number read.
fn mapped_append(append: &str) -> String {
    let values = append
        .split("now()::timestamptz, ")
        .nth(1)
        .and_then(|rest| {
            [" FROM context", " WHERE NOT EXISTS"]
                .iter()
                .filter_map(|end| rest.find(end))
                .min()
                .map(|at| &rest[..at])
        })
        .expect("the append selects type, time, payload, metadata");
    let (payload, metadata) = values.split_once("::jsonb, ").expect("payload, metadata");
    append
        .replace(
            &format!("{payload}::jsonb, {metadata}"),
            "$4::jsonb, $5::jsonb",
        )
        .replace("'BookCopyLentToReader'::text", "$4::text")
        .replace("now()::timestamptz", "$5::timestamptz")
        .replace("$4::jsonb, $5::jsonb", "$6::jsonb, $7::jsonb")
        .replace(":sequence_number", "$8")
        .replace(":types", "$1")
        .replace(&squash(BOOK), "$2::jsonb")
        .replace(&squash(READER), "$3::jsonb")
}

#[test]
fn each_script_sends_estunes_statements() {
    let filter = lend_filter("B", "R");
    let (query, params) = query_sql(&filter);
    assert!(
        matches!(
            params.as_slice(),
            [Param::Types(_), Param::Json(_), Param::Json(_)]
        ),
        "{params:?}"
    );
    for (name, script, guard) in SCRIPTS {
        let st = statements(script);
        assert_eq!(st.len(), 2, "{name}: a query and an append: {st:#?}");
        let mapped = st[0]
            .replace(":types", "$1")
            .replace(&squash(BOOK), "$2::jsonb")
            .replace(&squash(READER), "$3::jsonb");
        assert_eq!(mapped, squash(&query), "{name}");
        let (append, _) = append_sql(guard, &filter, 1);
        assert_eq!(mapped_append(&st[1]), squash(&append), "{name}");
    }
}

#[test]
fn the_scripts_differ_in_their_guard_only() {
    let [(_, max, _), (_, newer, _)] = SCRIPTS;
    let (max, newer) = (statements(max), statements(newer));
    assert_eq!(max[0], newer[0], "the same boundary query");
    assert_ne!(max[1], newer[1]);
}

#[test]
fn the_scripts_set_every_variable_they_use() {
    for (name, script, _) in SCRIPTS {
        for var in [":books", ":readers", ":types"] {
            assert!(script.contains(var), "{name}: {var}");
        }
        // Set by the benchmark with -D, documented in the script's header.
        assert!(script.contains("-D types"), "{name}");
    }
}
