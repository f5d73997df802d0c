//! TOML files of the user's (profiles, criteria) read into typed structs,
//! with errors that say file:line:col and the key, and the byte-offset to
//! line/column conversion their later checks use for their own positions.

use serde::de::DeserializeOwned;

/// A file that is not valid TOML or does not have the expected shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{col}: {}{message}", key.as_ref().map(|k| format!("at `{k}`: ")).unwrap_or_default())]
pub struct TomlError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The key path where deserialization stopped, when there is one.
    pub key: Option<String>,
    pub message: String,
}

/// Deserializes `text` (named `file` in errors) into `T`.
pub fn deserialize<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, TomlError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // toml::Spanned shows in the path; readers want the key.
        let path = e
            .path()
            .to_string()
            .replace(".$__serde_spanned_private_value", "");
        let inner = e.into_inner();
        let (line, col) = inner
            .span()
            .map(|s| line_col(text, s.start))
            .unwrap_or((1, 1));
        TomlError {
            file: file.to_string(),
            line,
            col,
            key: (path != "." && !path.is_empty()).then_some(path),
            message: inner.message().trim().to_string(),
        }
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map(|nl| before[nl + 1..].chars().count() + 1)
        .unwrap_or(before.chars().count() + 1);
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        size: toml::Spanned<u32>,
    }

    #[test]
    fn errors_name_file_line_col_and_key() {
        let e =
            deserialize::<Doc>("f.toml", "name = \"x\"\n[[items]]\nsize = \"big\"\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.col), ("f.toml", 3, 8));
        assert_eq!(e.key.as_deref(), Some("items[0].size"));
        assert!(
            e.to_string()
                .starts_with("f.toml:3:8: at `items[0].size`: "),
            "{e}"
        );
        let e = deserialize::<Doc>("f.toml", "nom = 1\n").unwrap_err();
        assert_eq!(e.key, None, "{e}");
        assert!(deserialize::<Doc>("f.toml", "name = \"x\"").is_ok());
    }

    #[test]
    fn positions() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 9), (2, 4));
    }
}
