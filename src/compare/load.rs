//! The only I/O of the module: reading result files, named one by one or
//! as a folder (an experiment's report folder holds other JSON besides
//! the results, which is skipped with a note).

use super::{CompareError, LoadedRun};
use crate::bench::SCHEMA;
use std::path::{Path, PathBuf};

/// What a set of inputs held.
#[derive(Debug)]
pub struct Inputs {
    pub runs: Vec<LoadedRun>,
    /// Files of a folder that are not results, and files given twice.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub file: PathBuf,
    pub reason: String,
}

/// [`scan`] without the notes on skipped files.
pub fn load_runs(inputs: &[PathBuf]) -> Result<Vec<LoadedRun>, CompareError> {
    scan(inputs).map(|i| i.runs)
}

/// Reads every input: a file must be an `estune.bench` result of this
/// version; a folder gives each `*.json` in it (not its subfolders), in
/// name order, skipping JSON that is no result. A result of another
/// version is an error wherever it is, since leaving it out would change
/// the comparison silently.
pub fn scan(inputs: &[PathBuf]) -> Result<Inputs, CompareError> {
    if inputs.is_empty() {
        return Err(CompareError::NoRuns);
    }
    let mut out = Inputs {
        runs: Vec::new(),
        skipped: Vec::new(),
    };
    let mut seen: Vec<PathBuf> = Vec::new();
    for input in inputs {
        let from_folder = input.is_dir();
        let files = if from_folder {
            folder_files(input)?
        } else {
            vec![input.clone()]
        };
        let before = out.runs.len();
        for file in files {
            let id = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen.contains(&id) {
                out.skipped.push(Skipped {
                    file,
                    reason: "given more than once: counted once".into(),
                });
                continue;
            }
            seen.push(id);
            match read(&file, from_folder)? {
                Ok(run) => out.runs.push(run),
                Err(reason) => out.skipped.push(Skipped { file, reason }),
            }
        }
        if from_folder && out.runs.len() == before {
            return Err(CompareError::EmptyFolder {
                dir: input.display().to_string(),
            });
        }
    }
    Ok(out)
}

/// The `*.json` files of a folder, by name.
fn folder_files(dir: &Path) -> Result<Vec<PathBuf>, CompareError> {
    let read_err = |source| CompareError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A run; or, for a file of a folder that is not a result, why it was
/// skipped.
fn read(file: &Path, from_folder: bool) -> Result<Result<LoadedRun, String>, CompareError> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|source| CompareError::Read {
        path: name.clone(),
        source,
    })?;
    let not_result = |why: String| {
        if from_folder {
            Ok(Err(why))
        } else {
            Err(CompareError::NotAResult {
                path: name.clone(),
                message: format!(
                    "{why}; give results that `estune bench --out FILE` wrote ({SCHEMA}), or a folder of them"
                ),
            })
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return not_result(format!("not JSON ({e})")),
    };
    let schema = value.get("schema").and_then(|s| s.as_str());
    match schema {
        Some(SCHEMA) => {}
        Some(s) if s.starts_with("estune.bench/") => {
            let by = value
                .pointer("/metadata/estune_version")
                .and_then(|v| v.as_str())
                .map(|v| format!(" (written by estune {v})"))
                .unwrap_or_default();
            return Err(CompareError::OtherVersion {
                path: name,
                found: s.to_string(),
                by,
            });
        }
        Some(s) => return not_result(format!("not a bench result (schema `{s}`)")),
        None => return not_result("not a bench result (no `schema` field)".into()),
    }
    match crate::check::parse_result(&name, &text) {
        Ok(result) => Ok(Ok(LoadedRun {
            file: file.to_path_buf(),
            result,
        })),
        Err(e) => Err(CompareError::NotAResult {
            path: name.clone(),
            message: e
                .to_string()
                .trim_start_matches(&format!("{name}: "))
                .to_string(),
        }),
    }
}
