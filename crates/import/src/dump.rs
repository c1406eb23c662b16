//! A collection's file in a `mongoexport` dump: one JSON document per line.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// What went wrong reading a dump, with where.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{file}: cannot read it: {message}")]
    Unreadable { file: PathBuf, message: String },
    #[error("{file}:{line}: {message}")]
    Line {
        file: PathBuf,
        line: usize,
        message: String,
    },
}

/// One document and the line it came from (1-based).
#[derive(Debug, Clone)]
pub struct Document {
    pub line: usize,
    pub fields: Map<String, Value>,
}

/// Every document of `file`, in order. A line that is not one JSON object
/// is an error naming the file and line: an export cut short or a file of
/// another kind is refused before anything is written. Blank lines are
/// skipped; a `--jsonArray` export is refused with a hint.
pub fn read(file: &Path) -> Result<Vec<Document>, DumpError> {
    let unreadable = |e: std::io::Error| DumpError::Unreadable {
        file: file.to_owned(),
        message: e.to_string(),
    };
    let reader = std::io::BufReader::new(std::fs::File::open(file).map_err(unreadable)?);
    let mut documents = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let text = line.map_err(unreadable)?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let at = |message: String| DumpError::Line {
            file: file.to_owned(),
            line: line_no,
            message,
        };
        if line_no == 1 && text.starts_with('[') {
            return Err(at(
                "a JSON array: export with one document per line (mongoexport without --jsonArray)".into(),
            ));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(fields)) => documents.push(Document { line: line_no, fields }),
            Ok(_) => return Err(at("not a JSON object".into())),
            Err(e) => return Err(at(format!("not JSON: {e}"))),
        }
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("streamia-import-dump-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.json");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn documents_come_with_their_line() {
        let path = file("ok", "{\"_id\":{\"$oid\":\"5f1d7f3b8c9d440012345678\"}}\n\n{\"a\":1}\n");
        let docs = read(&path).unwrap();
        assert_eq!(docs.iter().map(|d| d.line).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(docs[1].fields["a"], 1);
    }

    #[test]
    fn a_bad_line_names_the_file_and_line() {
        let path = file("bad", "{\"a\":1}\n{\"a\":\n");
        let err = read(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:2: not JSON", path.display())), "{err}");
        let path = file("array", "[{\"a\":1}]\n");
        assert!(read(&path).unwrap_err().to_string().contains("without --jsonArray"));
        let path = file("scalar", "42\n");
        assert!(read(&path).unwrap_err().to_string().ends_with(":1: not a JSON object"));
        let missing = read(Path::new("/nonexistent/users.json")).unwrap_err().to_string();
        assert!(
            missing.starts_with("/nonexistent/users.json: cannot read it"),
            "{missing}"
        );
    }
}
