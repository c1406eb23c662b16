//! What an import did, or would do (`--dry-run`): the same report either way.

use std::collections::BTreeMap;
use std::fmt;

/// A row of the dump that was not imported as it stood, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub line: usize,
    /// The row's `_id` as written, when it had a readable one.
    pub object_id: Option<String>,
    pub reason: String,
}

/// One collection's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    pub read: usize,
    pub imported: usize,
    /// Rows folded into another (same e-mail, a person's several ratings of one movie).
    pub merged: usize,
    pub skipped: Vec<Skipped>,
    /// Rows imported with a change, by kind of change ("username made valid": 3).
    pub changed: BTreeMap<String, usize>,
    /// Fields of the old documents the new system has no place for, and how often.
    pub unknown_fields: BTreeMap<String, usize>,
}

impl Collection {
    pub fn skip(&mut self, line: usize, object_id: Option<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            line,
            object_id,
            reason: reason.into(),
        });
    }

    pub fn changed(&mut self, what: &str) {
        *self.changed.entry(what.to_owned()).or_default() += 1;
    }

    pub fn unknown(&mut self, fields: impl IntoIterator<Item = String>) {
        for field in fields {
            *self.unknown_fields.entry(field).or_default() += 1;
        }
    }
}

/// The whole import's report, collection by collection.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub collections: BTreeMap<&'static str, Collection>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, c) in &self.collections {
            writeln!(
                f,
                "{name}: {} read, {} imported, {} merged, {} skipped",
                c.read,
                c.imported,
                c.merged,
                c.skipped.len()
            )?;
            for (what, n) in &c.changed {
                writeln!(f, "  changed: {what}: {n}")?;
            }
            if !c.unknown_fields.is_empty() {
                let fields: Vec<String> = c.unknown_fields.iter().map(|(k, n)| format!("{k} ({n})")).collect();
                writeln!(f, "  fields not imported: {}", fields.join(", "))?;
            }
            for s in &c.skipped {
                let id = s.object_id.as_deref().unwrap_or("no _id");
                writeln!(f, "  skipped line {} ({id}): {}", s.line, s.reason)?;
            }
        }
        Ok(())
    }
}
