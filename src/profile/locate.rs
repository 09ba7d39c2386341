//! Positions of values in RON text, for validation messages that point at `file:line:col`.
//!
//! ron reports positions only for syntax and type errors. Value errors are found after
//! deserialization, so this module re-reads the text with a small structural scanner that
//! records where each struct field, list element and tuple item starts. It runs on text that ron
//! has already accepted; on anything it does not understand it gives up and returns `None`
//! rather than guessing.

use std::fmt;

/// A place in the text: 1-based line and 1-based column counted in characters (ron's
/// convention, so both kinds of error point the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// The shape of a value, as far as locating needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A number, string, char or bare identifier.
    Scalar,
    /// `[a, b]`.
    List,
    /// `Name(a, b)` or `(a, b)`, including newtype variants such as `Count(5)`.
    Tuple,
    /// `Name(field: a)` or `(field: a)`.
    Struct,
    /// `{k: v}`.
    Map,
}

/// One value of the text and the values inside it.
#[derive(Clone, Debug)]
pub struct Node {
    pub position: Position,
    kind: Kind,
    fields: Vec<(String, Node)>,
    items: Vec<Node>,
}

impl Node {
    /// Scan a whole RON document. `None` if the scanner does not understand the text.
    pub fn parse(text: &str) -> Option<Node> {
        let mut scanner = Scanner {
            chars: text.chars().collect(),
            index: 0,
            line: 1,
            col: 1,
        };
        scanner.skip_trivia()?;
        let node = scanner.value(0)?;
        scanner.skip_trivia()?;
        scanner.peek().is_none().then_some(node)
    }

    /// The deepest node along `path` (e.g. `cluster.partitions[2].keys`) that exists in the
    /// text: fields left at their defaults are not in the text, so their parent is the best
    /// place to point at.
    pub fn locate(&self, path: &str) -> Position {
        let mut node = self;
        for segment in segments(path) {
            match node.child(&segment) {
                Some(child) => node = child,
                None => break,
            }
        }
        node.position
    }

    /// The names of the fields written in this struct, in text order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(name, _)| name.as_str())
    }

    /// The exact node at `path`, if the text has it.
    pub fn find(&self, path: &str) -> Option<&Node> {
        segments(path)
            .iter()
            .try_fold(self, |node, segment| node.child(segment))
    }

    fn child(&self, segment: &Segment) -> Option<&Node> {
        let node = self.unwrapped(segment);
        match segment {
            Segment::Field(name) => node
                .fields
                .iter()
                .find(|(field, _)| field == name)
                .map(|(_, value)| value),
            Segment::Index(index) => node.items.get(*index),
        }
    }

    /// Look through newtype wrappers (`Some(x)`, `List([…])`, `Explicit((…))`) when the
    /// wrapper itself cannot answer the lookup.
    fn unwrapped(&self, segment: &Segment) -> &Node {
        let mut node = self;
        while node.kind == Kind::Tuple
            && node.items.len() == 1
            && let Some(inner) = node.items.first()
        {
            let wanted = match segment {
                Segment::Field(_) => matches!(inner.kind, Kind::Struct | Kind::Tuple),
                Segment::Index(_) => matches!(inner.kind, Kind::List | Kind::Tuple),
            };
            if !wanted {
                break;
            }
            node = inner;
        }
        node
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Field(String),
    Index(usize),
}

/// `a.b[3].c` → `a`, `b`, `[3]`, `c`. Malformed indices end the path.
fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|part| !part.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(name) = pieces.next()
            && !name.is_empty()
        {
            out.push(Segment::Field(name.to_owned()));
        }
        for piece in pieces {
            match piece
                .strip_suffix(']')
                .and_then(|digits| digits.parse().ok())
            {
                Some(index) => out.push(Segment::Index(index)),
                None => return out,
            }
        }
    }
    out
}

/// Nesting deeper than this is not a profile; the scanner gives up instead of recursing on.
const MAX_DEPTH: usize = 64;

struct Scanner {
    chars: Vec<char>,
    index: usize,
    line: usize,
    col: usize,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.index).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.index + offset).copied()
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            col: self.col,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.index += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn expect(&mut self, wanted: char) -> Option<()> {
        (self.bump()? == wanted).then_some(())
    }

    /// Whitespace, `//` and nested `/* */` comments, and `#![enable(…)]` attributes.
    fn skip_trivia(&mut self) -> Option<()> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => self.block_comment()?,
                (Some('#'), Some('!')) => {
                    self.bump();
                    self.bump();
                    self.delimited('[', ']')?;
                }
                _ => return Some(()),
            }
        }
    }

    fn block_comment(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match (self.bump()?, self.peek()) {
                ('/', Some('*')) => {
                    self.bump();
                    depth += 1;
                }
                ('*', Some('/')) => {
                    self.bump();
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(());
                    }
                }
                _ => {}
            }
        }
    }

    /// Skip a bracketed run such as an attribute's `[enable(…)]`, honouring strings.
    fn delimited(&mut self, open: char, close: char) -> Option<()> {
        self.expect(open)?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.peek()? {
                '"' => self.string()?,
                c => {
                    self.bump();
                    if c == open {
                        depth += 1;
                    } else if c == close {
                        depth -= 1;
                    }
                }
            }
        }
        Some(())
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let position = self.position();
        let mut node = Node {
            position,
            kind: Kind::Scalar,
            fields: Vec::new(),
            items: Vec::new(),
        };
        match self.peek()? {
            '[' => {
                self.bump();
                node.kind = Kind::List;
                node.items = self.sequence(']', depth)?;
            }
            '{' => {
                self.bump();
                node.kind = Kind::Map;
                node.items = self.map(depth)?;
            }
            '(' => self.parenthesized(&mut node, depth)?,
            '"' => self.string()?,
            '\'' => self.char_literal()?,
            'r' if matches!(self.peek_at(1), Some('"' | '#')) && self.raw_string_ahead(1) => {
                self.bump();
                self.raw_string()?;
            }
            'b' if self.peek_at(1) == Some('"') => {
                self.bump();
                self.string()?;
            }
            'b' if self.peek_at(1) == Some('\'') => {
                self.bump();
                self.char_literal()?;
            }
            'b' if self.peek_at(1) == Some('r') && self.raw_string_ahead(2) => {
                self.bump();
                self.bump();
                self.raw_string()?;
            }
            c if is_ident_start(c) => {
                self.identifier()?;
                self.skip_trivia()?;
                if self.peek() == Some('(') {
                    self.parenthesized(&mut node, depth)?;
                }
            }
            c if c.is_ascii_digit() || matches!(c, '+' | '-' | '.') => self.number(),
            _ => return None,
        }
        Some(node)
    }

    /// After `r` (or `br`) at `offset`: `"` or `#…#"` starts a raw string; `r#ident` does not.
    fn raw_string_ahead(&self, offset: usize) -> bool {
        let mut at = offset;
        while self.peek_at(at) == Some('#') {
            at += 1;
        }
        self.peek_at(at) == Some('"')
    }

    /// `(…)` after an optional name: a struct when it starts with `ident:`, else a tuple.
    fn parenthesized(&mut self, node: &mut Node, depth: usize) -> Option<()> {
        self.expect('(')?;
        self.skip_trivia()?;
        if self.struct_ahead() {
            node.kind = Kind::Struct;
            loop {
                self.skip_trivia()?;
                if self.peek()? == ')' {
                    self.bump();
                    return Some(());
                }
                let name = self.identifier()?;
                self.skip_trivia()?;
                self.expect(':')?;
                self.skip_trivia()?;
                let value = self.value(depth + 1)?;
                node.fields.push((name, value));
                self.separator(')')?;
            }
        }
        node.kind = Kind::Tuple;
        node.items = self.sequence(')', depth)?;
        Some(())
    }

    /// Whether the cursor is at `ident` followed by `:`; the cursor does not move.
    fn struct_ahead(&mut self) -> bool {
        let saved = (self.index, self.line, self.col);
        let found = self.peek().is_some_and(is_ident_start)
            && self.identifier().is_some()
            && self.skip_trivia().is_some()
            && self.peek() == Some(':');
        (self.index, self.line, self.col) = saved;
        found
    }

    /// Comma-separated values up to `close` (the opening bracket is consumed).
    fn sequence(&mut self, close: char, depth: usize) -> Option<Vec<Node>> {
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek()? == close {
                self.bump();
                return Some(items);
            }
            items.push(self.value(depth + 1)?);
            self.separator(close)?;
        }
    }

    /// `key: value` pairs up to `}`; only the values are kept.
    fn map(&mut self, depth: usize) -> Option<Vec<Node>> {
        let mut values = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek()? == '}' {
                self.bump();
                return Some(values);
            }
            self.value(depth + 1)?;
            self.skip_trivia()?;
            self.expect(':')?;
            self.skip_trivia()?;
            values.push(self.value(depth + 1)?);
            self.separator('}')?;
        }
    }

    /// After an element: a comma, or the closing bracket (left for the caller).
    fn separator(&mut self, close: char) -> Option<()> {
        self.skip_trivia()?;
        match self.peek()? {
            ',' => {
                self.bump();
                Some(())
            }
            c if c == close => Some(()),
            _ => None,
        }
    }

    /// An identifier, or a raw identifier `r#name` (which may contain `.`, `+` and `-`).
    fn identifier(&mut self) -> Option<String> {
        let mut name = String::new();
        if self.peek() == Some('r') && self.peek_at(1) == Some('#') {
            self.bump();
            self.bump();
            while self
                .peek()
                .is_some_and(|c| is_ident_continue(c) || matches!(c, '.' | '+' | '-'))
            {
                name.extend(self.bump());
            }
            return (!name.is_empty()).then_some(name);
        }
        if !self.peek().is_some_and(is_ident_start) {
            return None;
        }
        while self.peek().is_some_and(is_ident_continue) {
            name.extend(self.bump());
        }
        Some(name)
    }

    /// Any number form ron accepts; numbers end at a delimiter or whitespace.
    fn number(&mut self) {
        while self
            .peek()
            .is_some_and(|c| !(c.is_whitespace() || matches!(c, ',' | ')' | ']' | '}' | ':' | '/')))
        {
            self.bump();
        }
    }

    fn string(&mut self) -> Option<()> {
        self.expect('"')?;
        loop {
            match self.bump()? {
                '\\' => {
                    self.bump()?;
                }
                '"' => return Some(()),
                _ => {}
            }
        }
    }

    fn char_literal(&mut self) -> Option<()> {
        self.expect('\'')?;
        loop {
            match self.bump()? {
                '\\' => {
                    self.bump()?;
                }
                '\'' => return Some(()),
                _ => {}
            }
        }
    }

    /// `r#…#"…"#…#` with the `r` already consumed.
    fn raw_string(&mut self) -> Option<()> {
        let mut hashes = 0usize;
        while self.peek() == Some('#') {
            self.bump();
            hashes += 1;
        }
        self.expect('"')?;
        loop {
            if self.bump()? == '"' && (0..hashes).all(|offset| self.peek_at(offset) == Some('#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                return Some(());
            }
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, col: usize) -> Position {
        Position { line, col }
    }

    const TEXT: &str = r##"#![enable(implicit_some)]
// a comment with ( and [ that must not confuse the scanner
(
    name: "a \"quoted\" (name)",
    cluster: (
        partitions: List([
            (keys: ["a"], weight: 1),
            (keys: ["b", "c"]),
        ]),
        timing: Explicit((heartbeat_interval: "1s")),
    ),
    /* block /* nested */ comment */
    steps: [ScaleTo(3), KillWorker(Id("worker-1")), Hold("1s"), WaitStable(timeout: "5s")],
    raw: r#"a "raw" string"#,
    thresholds: (peak_rss_per_host: Some("1MiB"), tasks: -1.5e-3),
    r#kebab-name: 'x',
)
"##;

    #[test]
    fn finds_fields_items_and_wrapped_values() {
        let root = Node::parse(TEXT).expect("scan");
        assert_eq!(root.position, at(3, 1));
        assert_eq!(root.find("name").expect("name").position, at(4, 11));
        assert_eq!(root.find("cluster").expect("cluster").position, at(5, 14));
        assert_eq!(
            root.find("cluster.partitions[1]").expect("p1").position,
            at(8, 13)
        );
        assert_eq!(
            root.find("cluster.partitions[1].keys")
                .expect("keys")
                .position,
            at(8, 20)
        );
        assert_eq!(
            root.find("cluster.timing.heartbeat_interval")
                .expect("hb")
                .position,
            at(10, 47)
        );
        assert_eq!(root.find("steps[0]").expect("s0").position, at(13, 13));
        assert_eq!(root.find("steps[3]").expect("s3").position, at(13, 65));
        assert_eq!(
            root.find("steps[3].timeout").expect("timeout").position,
            at(13, 85)
        );
        assert_eq!(
            root.find("thresholds.tasks").expect("tasks").position,
            at(15, 58)
        );
        assert_eq!(
            root.find("kebab-name").expect("raw ident").position,
            at(16, 19)
        );
        assert!(root.find("steps[4]").is_none());
        assert!(root.find("cluster.hosts").is_none());
    }

    #[test]
    fn lists_field_names() {
        let root = Node::parse(TEXT).expect("scan");
        let names: Vec<&str> = root.find("steps[3]").expect("s3").field_names().collect();
        assert_eq!(names, ["timeout"]);
        let names: Vec<&str> = root
            .find("cluster.partitions[0]")
            .expect("p0")
            .field_names()
            .collect();
        assert_eq!(names, ["keys", "weight"]);
        assert_eq!(root.find("steps[0]").expect("s0").field_names().count(), 0);
    }

    #[test]
    fn locate_falls_back_to_the_deepest_present_parent() {
        let root = Node::parse(TEXT).expect("scan");
        assert_eq!(root.locate("cluster.hosts"), at(5, 14));
        assert_eq!(root.locate("steps[9].timeout"), at(13, 12));
        assert_eq!(root.locate("nats"), at(3, 1));
    }

    #[test]
    fn gives_up_on_text_it_does_not_understand() {
        assert!(Node::parse("(a: [1, 2)").is_none());
        assert!(Node::parse("(a: 1) trailing").is_none());
        assert!(Node::parse("(a: \"open").is_none());
        assert!(Node::parse(&"[".repeat(100)).is_none());
    }

    #[test]
    fn every_truncation_of_a_document_ends_without_panicking() {
        let chars: Vec<char> = TEXT.chars().collect();
        for len in 0..chars.len() {
            let prefix: String = chars[..len].iter().collect();
            // A cut inside the trailing newline still leaves a whole document.
            let whole = prefix.trim_end().ends_with(')') && len + 2 >= chars.len();
            assert_eq!(Node::parse(&prefix).is_some(), whole, "{len}: {prefix:?}");
        }
    }

    #[test]
    fn splits_paths() {
        assert_eq!(
            segments("a.b[3][1].c"),
            vec![
                Segment::Field("a".into()),
                Segment::Field("b".into()),
                Segment::Index(3),
                Segment::Index(1),
                Segment::Field("c".into()),
            ]
        );
        assert_eq!(segments("a[x].b"), vec![Segment::Field("a".into())]);
    }
}
