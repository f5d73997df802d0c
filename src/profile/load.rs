//! Finding profile files (by name or path), parsing one file into a layer
//! with precise positions, and following `extends`.

use super::model::ProfileLayer;
use super::ProfileError;
use std::path::{Path, PathBuf};

/// The profiles shipped with estune, embedded so the binary works anywhere.
pub const BUILTIN: &[(&str, &str)] = &[
    ("stock", include_str!("../../profiles/stock.toml")),
    (
        "pgtune-oltp",
        include_str!("../../profiles/pgtune-oltp.toml"),
    ),
    (
        "des-benchmark",
        include_str!("../../profiles/des-benchmark.toml"),
    ),
    ("eventstore", include_str!("../../profiles/eventstore.toml")),
];

/// One profile file as read: where it came from, its text, and its layer.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    /// For people: a path, or `profiles/NAME.toml (built-in)`.
    pub label: String,
    pub dir: Option<PathBuf>,
    pub text: String,
    pub layer: ProfileLayer,
}

fn looks_like_path(spec: &str) -> bool {
    spec.contains('/') || spec.ends_with(".toml")
}

/// Names of every profile reachable by name: files in the search directory
/// and the built-in ones.
pub fn available(search_dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(dir) = search_dir {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                        names.push(stem.to_string());
                    }
                }
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Reads the file a spec names. `relative_to` is the directory of the
/// profile whose `extends` names this one.
pub fn read(
    spec: &str,
    search_dir: Option<&Path>,
    relative_to: Option<&Path>,
) -> Result<SourceFile, ProfileError> {
    if looks_like_path(spec) {
        let mut path = PathBuf::from(spec);
        if path.is_relative() {
            if let Some(base) = relative_to {
                path = base.join(path);
            }
        }
        return read_path(&path);
    }
    for dir in [relative_to, search_dir].into_iter().flatten() {
        let candidate = dir.join(format!("{spec}.toml"));
        if candidate.is_file() {
            return read_path(&candidate);
        }
    }
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
        let label = format!("profiles/{name}.toml (built-in)");
        return parse(name, &label, None, text.to_string());
    }
    Err(ProfileError::NotFound {
        name: spec.to_string(),
        available: available(search_dir),
    })
}

fn read_path(path: &Path) -> Result<SourceFile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("profile")
        .to_string();
    let dir = path.parent().map(Path::to_path_buf);
    parse(&name, &path.display().to_string(), dir, text)
}

/// Parses one file. Errors carry file, line, column and the key's path.
pub fn parse(
    name: &str,
    label: &str,
    dir: Option<PathBuf>,
    text: String,
) -> Result<SourceFile, ProfileError> {
    let layer: ProfileLayer = crate::tomlfile::deserialize(label, &text)?;
    Ok(SourceFile {
        name: name.to_string(),
        label: label.to_string(),
        dir,
        text,
        layer,
    })
}

/// The chain of files from the named profile up to its root ancestor.
pub fn chain(spec: &str, search_dir: Option<&Path>) -> Result<Vec<SourceFile>, ProfileError> {
    let mut files = vec![read(spec, search_dir, None)?];
    loop {
        let last = files.last().expect("chain starts with one file");
        let Some(parent) = last.layer.extends.clone() else {
            break;
        };
        let next = read(&parent, search_dir, last.dir.as_deref())?;
        if files.iter().any(|f| f.label == next.label) || files.len() > 16 {
            let mut names: Vec<String> = files.iter().map(|f| f.label.clone()).collect();
            names.push(next.label);
            return Err(ProfileError::Cycle { chain: names });
        }
        files.push(next);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_parses() {
        for (name, text) in BUILTIN {
            parse(name, name, None, text.to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
