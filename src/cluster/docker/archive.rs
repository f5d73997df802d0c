//! Tar archives for Docker's archive API, the only way to put a file into a
//! container (running or merely created) without a command line: the
//! header's uid, gid and mode become the file's, so secrets and
//! configuration land owned by the server's user with mode 0600.

use std::io::{self, Read};

/// Who owns the files in the container (numeric: the image's `postgres`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    /// A regular file, mode 0600.
    File { name: &'a str, contents: &'a [u8] },
    /// A directory, mode 0700: how a data directory owned by the server's
    /// user comes to exist inside a volume whose root belongs to root.
    Dir { name: &'a str },
}

/// An uncompressed tar of `entries`, all owned by `owner`.
pub fn pack(entries: &[Entry<'_>], owner: Owner) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(owner.uid);
        header.set_gid(owner.gid);
        header.set_mtime(mtime);
        match entry {
            Entry::File { name, contents } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(contents.len() as u64);
                header.set_mode(0o600);
                builder.append_data(&mut header, name, *contents)?;
            }
            Entry::Dir { name } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_mode(0o700);
                builder.append_data(&mut header, name, io::empty())?;
            }
        }
    }
    builder.into_inner()
}

/// (name, text) pairs as file entries.
pub fn file_entries<'a>(files: &[(&'a str, &'a str)]) -> Vec<Entry<'a>> {
    files
        .iter()
        .map(|(name, contents)| Entry::File {
            name,
            contents: contents.as_bytes(),
        })
        .collect()
}

/// Regular files only (mode 0600).
pub fn pack_files(files: &[(&str, &str)], owner: Owner) -> io::Result<Vec<u8>> {
    pack(&file_entries(files), owner)
}

/// The contents of the first regular file in an archive, as Docker sends
/// one file: a tar holding just that file under its base name.
pub fn first_file(archive: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut archive = tar::Archive::new(archive);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents)?;
            return Ok(Some(contents));
        }
    }
    Ok(None)
}

/// Whether `name` is a file name with no directory part: configuration
/// goes straight into the data directory, and a `..` must not take it
/// anywhere else.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_files_keep_owner_mode_and_contents() {
        let owner = Owner { uid: 100, gid: 102 };
        let entries = [
            Entry::File {
                name: "a.conf",
                contents: b"x = 1\n",
            },
            Entry::Dir { name: "data" },
        ];
        let bytes = pack(&entries, owner).expect("pack");
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let h = entry.header().clone();
            let mut body = String::new();
            entry.read_to_string(&mut body).expect("read");
            let path = entry.path().expect("path").display().to_string();
            seen.push((path, h.mode().ok(), h.uid().ok(), h.gid().ok(), body));
        }
        assert_eq!(
            seen,
            vec![
                (
                    "a.conf".into(),
                    Some(0o600),
                    Some(100),
                    Some(102),
                    "x = 1\n".into()
                ),
                (
                    "data".into(),
                    Some(0o700),
                    Some(100),
                    Some(102),
                    String::new()
                ),
            ]
        );
    }

    #[test]
    fn first_file_reads_back_what_pack_wrote() {
        let owner = Owner { uid: 0, gid: 0 };
        let bytes = pack_files(&[("pg_hba.conf", "local all all peer\n")], owner).expect("pack");
        let got = first_file(&bytes).expect("unpack");
        assert_eq!(got.as_deref(), Some(&b"local all all peer\n"[..]));
        let empty = tar::Builder::new(Vec::new()).into_inner().expect("empty");
        assert_eq!(first_file(&empty).expect("unpack"), None);
    }

    #[test]
    fn plain_names() {
        let cases = [
            ("postgresql.conf", true),
            ("pg_hba.conf", true),
            ("", false),
            (".", false),
            ("..", false),
            ("../x", false),
            ("conf.d/x.conf", false),
            ("/etc/passwd", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_plain_name(name), want, "{name:?}");
        }
    }
}
