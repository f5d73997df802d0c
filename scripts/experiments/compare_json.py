"""Reading `estune compare --format json` for the table scripts beside it."""
import json
import subprocess

ESTUNE = "./target/release/estune"


def compare(folder, baseline):
    """estune compare FOLDER --baseline BASELINE, as a parsed document."""
    out = subprocess.run(
        [ESTUNE, "compare", folder, "--format", "json", "--baseline", baseline],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def row(doc, mode, key):
    """The group and row of figure KEY for all operations in MODE."""
    for group in doc["groups"]:
        if group["mode"] != mode:
            continue
        for table in group["tables"]:
            for r in table["rows"]:
                if r["subject"] == "all" and r["key"] == key:
                    return group, r
    return None, None
