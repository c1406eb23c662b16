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

/// A reason without the ids in it, to count reasons of one kind together.
fn category(reason: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for (i, part) in reason.split('"').enumerate() {
        match i % 2 == 1 {
            true => {
                out.push('…');
                quoted = !quoted;
            }
            false => out.push_str(
                &part
                    .split(' ')
                    .map(|w| match w.len() == 24 && w.bytes().all(|b| b.is_ascii_hexdigit()) {
                        true => "…",
                        false => w,
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }
    out
}

impl fmt::Display for Report {
    /// Per collection its counts, its changes and skips by kind; then every
    /// skipped row with its line and why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, c) in &self.collections {
            writeln!(
                f,
                "{name}: {} read, {} imported, {} merged into another row, {} skipped",
                c.read,
                c.imported,
                c.merged,
                c.skipped.len() - c.merged
            )?;
            for (what, n) in &c.changed {
                writeln!(f, "  changed: {what}: {n}")?;
            }
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for s in &c.skipped {
                *reasons.entry(category(&s.reason)).or_default() += 1;
            }
            for (reason, n) in reasons {
                writeln!(f, "  not imported: {reason}: {n}")?;
            }
            if !c.unknown_fields.is_empty() {
                let fields: Vec<String> = c.unknown_fields.iter().map(|(k, n)| format!("{k} ({n})")).collect();
                writeln!(f, "  fields not imported: {}", fields.join(", "))?;
            }
        }
        for (name, c) in &self.collections {
            for s in &c.skipped {
                let id = s.object_id.as_deref().unwrap_or("-");
                writeln!(f, "not imported {name}.json:{} {id}: {}", s.line, s.reason)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_reasons_and_every_skipped_row_follows() {
        let mut report = Report::default();
        let c = report.collections.entry("ratings").or_default();
        c.read = 3;
        c.imported = 1;
        c.skip(
            2,
            Some("5f1d7f3b8c9d440012345678".into()),
            "user 5f1d7f3b8c9d440012345679 was not imported",
        );
        c.skip(3, None, "user 5f1d7f3b8c9d44001234567a was not imported");
        c.skip(4, None, "e-mail \"x at y\" is not an address");
        let text = report.to_string();
        assert!(
            text.starts_with("ratings: 3 read, 1 imported, 0 merged into another row, 3 skipped\n"),
            "{text}"
        );
        assert!(text.contains("  not imported: user … was not imported: 2\n"), "{text}");
        assert!(
            text.contains("  not imported: e-mail … is not an address: 1\n"),
            "{text}"
        );
        assert!(text.contains(
            "not imported ratings.json:2 5f1d7f3b8c9d440012345678: user 5f1d7f3b8c9d440012345679 was not imported\n"
        ));
        assert!(text.contains("not imported ratings.json:3 -: user"));
    }
}
