//! Node type patterns: an exact type (`core.http`), a glob with `*` (`core.*`, `*.http`), or `*`.

use std::cmp::Ordering;
use std::fmt;

/// A node type pattern, parsed once. `*` matches any run of characters (dots included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The literal pieces between the `*`s; a single piece means no `*` at all (exact).
    pieces: Vec<String>,
}

impl Pattern {
    /// Parses `text`; an empty pattern is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty node type pattern".into());
        }
        if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("node type pattern {text:?} contains {c:?}"));
        }
        Ok(Self {
            text: text.to_owned(),
            pieces: text.split('*').map(str::to_owned).collect(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern has no `*`.
    pub fn is_exact(&self) -> bool {
        self.pieces.len() == 1
    }

    /// Whether `node_type` matches.
    pub fn matches(&self, node_type: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(x) => x,
            None => return false,
        };
        let Some(mut tail) = node_type.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty();
        };
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(i) => tail = &tail[i + piece.len()..],
                None => return false,
            }
        }
        tail.len() >= last.len() && tail.ends_with(last.as_str())
    }

    /// Orders by specificity (greater = more specific): exact first, then the most literal
    /// characters, then the longer text, then byte order (so the choice is deterministic).
    pub fn specificity(&self, other: &Self) -> Ordering {
        let literal = |p: &Self| p.pieces.iter().map(String::len).sum::<usize>();
        self.is_exact()
            .cmp(&other.is_exact())
            .then(literal(self).cmp(&literal(other)))
            .then(self.text.len().cmp(&other.text.len()))
            .then(other.text.cmp(&self.text))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).expect("pattern")
    }

    #[test]
    fn globs_match() {
        assert!(p("core.http").matches("core.http"));
        assert!(!p("core.http").matches("core.https"));
        assert!(p("core.*").matches("core.http"));
        assert!(p("core.*").matches("core."));
        assert!(!p("core.*").matches("module.run"));
        assert!(p("*").matches("anything"));
        assert!(p("*.http").matches("core.http"));
        assert!(p("a*b*c").matches("abc"));
        assert!(p("a*b*c").matches("axxbyyc"));
        assert!(!p("a*b*c").matches("acb"));
        assert!(!p("ab*ba").matches("aba"));
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("a b").is_err());
    }

    #[test]
    fn exact_beats_longest_glob_beats_star() {
        use Ordering::Greater;
        assert_eq!(p("core.http").specificity(&p("core.*")), Greater);
        assert_eq!(p("core.ht*").specificity(&p("core.*")), Greater);
        assert_eq!(p("core.*").specificity(&p("*")), Greater);
        assert_eq!(p("c").specificity(&p("core.http*")), Greater);
    }
}
