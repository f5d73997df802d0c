//! `scripts/bench/lend.pgbench` is what the estune-vs-pgbench benchmark
//! runs; it must send the statements estune sends. This test rebuilds
//! estune's two statements of LendBookCopyToReader from the library code
//! and compares them with the script's, pgbench's expressions mapped back
//! to estune's parameters.

use estune::workload::{append_one_sql, lend_filter, query_sql, Param};

const SCRIPT: &str = include_str!("../scripts/bench/lend.pgbench");

fn squash(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace(" )", ")")
}

/// The script's SQL statements (comments and meta-commands left out).
fn statements() -> Vec<String> {
    let sql: Vec<&str> = SCRIPT
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

#[test]
fn the_script_sends_estunes_statements() {
    let filter = lend_filter("B", "R");
    let st = statements();
    assert_eq!(st.len(), 2, "a query and an append: {st:#?}");

    let (query, params) = query_sql(&filter);
    assert!(
        matches!(
            params.as_slice(),
            [Param::Types(_), Param::Json(_), Param::Json(_)]
        ),
        "{params:?}"
    );
    let mapped = st[0]
        .replace(":types", "$1")
        .replace(&squash(BOOK), "$2::jsonb")
        .replace(&squash(READER), "$3::jsonb");
    assert_eq!(mapped, squash(&query));

    let (append, _) = append_one_sql(&filter);
    let payload = st[1]
        .split("now()::timestamptz, ")
        .nth(1)
        .and_then(|rest| rest.split(" FROM context").next())
        .expect("the append selects type, time, payload, metadata");
    let (payload, metadata) = payload.split_once("::jsonb, ").expect("payload, metadata");
    let mapped = st[1]
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
        .replace(&squash(READER), "$3::jsonb");
    assert_eq!(mapped, squash(&append));
}

#[test]
fn the_script_sets_every_variable_it_uses() {
    for var in [":books", ":readers", ":types"] {
        assert!(SCRIPT.contains(var));
    }
    // Set by the benchmark with -D, documented in the script's header.
    assert!(SCRIPT.contains("-D types"));
}
