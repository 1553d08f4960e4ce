//! Nakama's query language for match listing and the matchmaker: the Bluge/Bleve
//! query-string syntax (N `server/match_common.go ParseQueryString`, the vendored
//! `blugelabs/query_string` lexer and grammar), parsed once and evaluated against a JSON
//! document instead of a search index.
//!
//! The document is what Nakama indexes: a match is `{"label": <label JSON>, ...}`, a
//! matchmaker ticket `{"properties": {<string and numeric properties>}, ...}`. A field is a
//! dotted path into it (`label.mode`, `properties.rank`); arrays add no path segment, so a
//! term matches when any element matches.
//!
//! | syntax | meaning |
//! |---|---|
//! | `*` (the whole query) | every document |
//! | `f:v` | the string at `f` equals `v` (exact and case-sensitive: Nakama indexes keywords) |
//! | `f:"a b"` | the same, for a value with spaces; `\"` and `\\` escape |
//! | `f:5`, `f:-2.5` | the number at `f` equals it, or the string at `f` is that text |
//! | `f:>5` `f:>=5` `f:<5` `f:<=5` | numeric range |
//! | `f:>"2024-01-02T00:00:00Z"` | date range over strings that parse as dates |
//! | `f:true` / `f:T` | a boolean (Nakama indexes booleans as `T`/`F`; both spellings match) |
//! | `f:ab*`, `f:a?c`, `f:*` | wildcards over the whole value (`f:*`: the field exists) |
//! | `f:abc~1` | edit distance at most 1 (`~` alone means 1; 2 is the most allowed) |
//! | `+clause` / `-clause` / `clause` | must / must not / should |
//! | `clause^2` | boost: ranks better matches first, never changes what matches |
//! | `v` (no field) | any field of the document (Bleve's `_all`) |
//!
//! A document matches when it matches every must clause and no must-not clause, and — when
//! there is no must clause — at least one should clause. With a must clause, should clauses
//! only add to [`Query::score`].
//!
//! Not supported: regular expressions (`f:/re/`) are rejected with [`QueryError::Unsupported`].

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// Why a query string is invalid. Nakama reports any of these as an invalid query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("unterminated quote")]
    UnterminatedQuote,
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("error parsing number: {0}")]
    InvalidNumber(String),
    #[error("invalid boost value: {0}")]
    InvalidBoost(String),
    #[error("invalid fuzziness value: {0}")]
    InvalidFuzziness(String),
    #[error("invalid time: {0}")]
    InvalidTime(String),
    #[error("unsupported query: {0}")]
    Unsupported(String),
}

/// A parsed query. Cheap to evaluate many times; compares and serialises as its source text.
#[derive(Debug, Clone)]
pub struct Query {
    source: String,
    root: Root,
}

#[derive(Debug, Clone)]
enum Root {
    All,
    Nothing,
    Bool(BoolQuery),
}

#[derive(Debug, Clone, Default)]
struct BoolQuery {
    musts: Vec<Clause>,
    shoulds: Vec<Clause>,
    must_nots: Vec<Clause>,
}

#[derive(Debug, Clone)]
struct Clause {
    /// `None`: any field.
    field: Option<String>,
    term: Term,
    boost: f64,
}

#[derive(Debug, Clone)]
enum Term {
    /// A keyword: equal to a string, or the `T`/`F`/`true`/`false` spelling of a boolean.
    Exact(String),
    /// An unquoted number: a number equal to `value`, or a string equal to `text`.
    Number {
        text: String,
        value: f64,
    },
    Wildcard(Vec<char>),
    Fuzzy {
        term: Vec<char>,
        distance: usize,
    },
    Range {
        min: Option<(f64, bool)>,
        max: Option<(f64, bool)>,
    },
    /// Unix nanoseconds, with inclusiveness.
    DateRange {
        min: Option<(i128, bool)>,
        max: Option<(i128, bool)>,
    },
}

impl Query {
    /// Parses a query string. The exact string `*` matches everything (Nakama special-cases
    /// it); the empty string matches nothing (Bluge's parser), so callers that treat an empty
    /// query as "any" (`matchmaker_add`, `match_list`) substitute `*` first.
    pub fn parse(s: &str) -> Result<Query, QueryError> {
        let root = if s == "*" {
            Root::All
        } else if s.is_empty() {
            Root::Nothing
        } else {
            Root::Bool(
                Parser {
                    tokens: lex(s)?,
                    pos: 0,
                }
                .parse()?,
            )
        };
        Ok(Query {
            source: s.to_string(),
            root,
        })
    }

    /// The query that matches every document (`*`).
    pub fn match_all() -> Query {
        Query {
            source: "*".to_string(),
            root: Root::All,
        }
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, doc: &Value) -> bool {
        self.score(doc).is_some()
    }

    /// `None` when `doc` does not match; otherwise the sum of the boosts (1 unless `^N`) of
    /// the clauses it matches, as Nakama's constant-similarity index scores. Higher is a better
    /// match.
    pub fn score(&self, doc: &Value) -> Option<f64> {
        match &self.root {
            Root::All => Some(1.0),
            Root::Nothing => None,
            Root::Bool(b) => b.score(doc),
        }
    }
}

impl BoolQuery {
    fn score(&self, doc: &Value) -> Option<f64> {
        if self.must_nots.iter().any(|c| c.matches(doc)) {
            return None;
        }
        let mut score = 0.0;
        for c in &self.musts {
            if !c.matches(doc) {
                return None;
            }
            score += c.boost;
        }
        let mut any_should = false;
        for c in &self.shoulds {
            if c.matches(doc) {
                any_should = true;
                score += c.boost;
            }
        }
        if self.musts.is_empty() {
            if self.shoulds.is_empty() {
                // Only must-not clauses: everything else matches.
                return Some(1.0);
            }
            if !any_should {
                return None;
            }
        }
        Some(score)
    }
}

impl Clause {
    fn matches(&self, doc: &Value) -> bool {
        let mut pred = |leaf: Leaf<'_>| self.term.matches(leaf);
        match &self.field {
            Some(path) => any_at_path(doc, path, &mut pred),
            None => any_leaf(doc, &mut pred),
        }
    }
}

impl Term {
    fn matches(&self, leaf: Leaf<'_>) -> bool {
        match (self, leaf) {
            (Term::Exact(s), Leaf::Str(v)) => s == v,
            (Term::Exact(s), Leaf::Bool(b)) => bool_spellings(b).contains(&s.as_str()),
            (Term::Number { text, .. }, Leaf::Str(v)) => text == v,
            (Term::Number { value, .. }, Leaf::Num(n)) => n == *value,
            (Term::Wildcard(p), Leaf::Str(v)) => wildcard(p, v),
            (Term::Wildcard(p), Leaf::Bool(b)) => bool_spellings(b).iter().any(|s| wildcard(p, s)),
            // Numbers are indexed as binary terms: only a pattern of stars matches them.
            (Term::Wildcard(p), Leaf::Num(_)) => p.iter().all(|c| *c == '*'),
            (Term::Fuzzy { term, distance }, Leaf::Str(v)) => within_distance(term, v, *distance),
            (Term::Fuzzy { term, distance }, Leaf::Bool(b)) => bool_spellings(b)
                .iter()
                .any(|s| within_distance(term, s, *distance)),
            (Term::Range { min, max }, Leaf::Num(n)) => in_range(n, *min, *max),
            (Term::DateRange { min, max }, Leaf::Str(v)) => {
                parse_document_time(v).is_some_and(|t| in_range(t, *min, *max))
            }
            _ => false,
        }
    }
}

fn bool_spellings(b: bool) -> [&'static str; 2] {
    if b { ["T", "true"] } else { ["F", "false"] }
}

fn in_range<T: PartialOrd>(v: T, min: Option<(T, bool)>, max: Option<(T, bool)>) -> bool {
    let above = match min {
        Some((m, true)) => v >= m,
        Some((m, false)) => v > m,
        None => true,
    };
    let below = match max {
        Some((m, true)) => v <= m,
        Some((m, false)) => v < m,
        None => true,
    };
    above && below
}

// ---------------------------------------------------------------- documents

#[derive(Clone, Copy)]
enum Leaf<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

/// Whether any value at `path` satisfies `pred`. Object keys may themselves contain dots
/// (Nakama joins the walked keys with `.`), arrays add no segment.
fn any_at_path(v: &Value, path: &str, pred: &mut dyn FnMut(Leaf<'_>) -> bool) -> bool {
    match v {
        Value::Object(map) => {
            for (key, child) in map {
                let Some(rest) = path.strip_prefix(key.as_str()) else {
                    continue;
                };
                if rest.is_empty() {
                    if any_here(child, pred) {
                        return true;
                    }
                } else if let Some(rest) = rest.strip_prefix('.')
                    && any_at_path(child, rest, pred)
                {
                    return true;
                }
            }
            false
        }
        Value::Array(items) => items.iter().any(|item| any_at_path(item, path, pred)),
        _ => false,
    }
}

/// The scalars of a value whose path ends here: itself, or the elements of an array (objects
/// inside have longer paths).
fn any_here(v: &Value, pred: &mut dyn FnMut(Leaf<'_>) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|item| any_here(item, pred)),
        Value::Object(_) | Value::Null => false,
        scalar => leaf(scalar).is_some_and(pred),
    }
}

/// Every scalar of the document, whatever its path.
fn any_leaf(v: &Value, pred: &mut dyn FnMut(Leaf<'_>) -> bool) -> bool {
    match v {
        Value::Object(map) => map.values().any(|child| any_leaf(child, pred)),
        Value::Array(items) => items.iter().any(|item| any_leaf(item, pred)),
        Value::Null => false,
        scalar => leaf(scalar).is_some_and(pred),
    }
}

fn leaf(v: &Value) -> Option<Leaf<'_>> {
    match v {
        Value::String(s) => Some(Leaf::Str(s)),
        Value::Number(n) => n.as_f64().map(Leaf::Num),
        Value::Bool(b) => Some(Leaf::Bool(*b)),
        _ => None,
    }
}

/// Whole-value wildcard match: `*` any run of characters, `?` any one.
fn wildcard(pattern: &[char], value: &str) -> bool {
    let value: Vec<char> = value.chars().collect();
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '?' || (pattern[p] != '*' && pattern[p] == value[v]))
        {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, v));
            p += 1;
        } else if let Some((sp, sv)) = star {
            p = sp + 1;
            v = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Levenshtein distance between `term` and `value` is at most `max`.
fn within_distance(term: &[char], value: &str, max: usize) -> bool {
    let value: Vec<char> = value.chars().collect();
    if term.len().abs_diff(value.len()) > max {
        return false;
    }
    let mut prev: Vec<usize> = (0..=value.len()).collect();
    for (i, a) in term.iter().enumerate() {
        let mut cur = Vec::with_capacity(value.len() + 1);
        cur.push(i + 1);
        for (j, b) in value.iter().enumerate() {
            let cost = usize::from(a != b);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        if cur.iter().all(|d| *d > max) {
            return false;
        }
        prev = cur;
    }
    prev[value.len()] <= max
}

/// Strings Nakama indexes as datetimes (N `blugeParseDateTime`): RFC 3339, or
/// `YYYY-MM-DD[(T| )hh:mm:ss[.frac]]` taken as UTC.
fn parse_document_time(s: &str) -> Option<i128> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let with_t = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    let with_space = format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    for layout in [with_t, with_space] {
        if let Ok(t) = time::PrimitiveDateTime::parse(s, layout) {
            return Some(t.assume_utc().unix_timestamp_nanos());
        }
    }
    let date = time::Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp_nanos())
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Phrase(String),
    Number(String),
    Plus,
    Minus,
    Colon,
    Greater,
    Less,
    Equal,
    Boost(String),
    Tilde(String),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Str(s) | Tok::Number(s) => write!(f, "`{s}`"),
            Tok::Phrase(s) => write!(f, "`\"{s}\"`"),
            Tok::Plus => f.write_str("`+`"),
            Tok::Minus => f.write_str("`-`"),
            Tok::Colon => f.write_str("`:`"),
            Tok::Greater => f.write_str("`>`"),
            Tok::Less => f.write_str("`<`"),
            Tok::Equal => f.write_str("`=`"),
            Tok::Boost(s) => write!(f, "`^{s}`"),
            Tok::Tilde(s) => write!(f, "`~{s}`"),
        }
    }
}

/// Characters a backslash escapes; before anything else the backslash is kept.
const RESERVED: &str = "+-=&|><!(){}[]^\"~*?:\\/ ";

fn unescape(buf: &mut String, c: char) {
    if !RESERVED.contains(c) {
        buf.push('\\');
    }
    buf.push(c);
}

#[derive(Clone, Copy, PartialEq)]
enum LexState {
    Start,
    Str,
    NumOrStr,
    Phrase,
    Op,
    Boost,
    Tilde,
}

/// A port of `query_string_lex.go`'s state machine, quirks included: a term ends only at a
/// space (or `:`, `^`, `~`), other whitespace only separates terms, and a number that runs
/// into anything but digits and one dot becomes a string (`10^2` is the term `10^2`).
fn lex(input: &str) -> Result<Vec<Tok>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut lx = Lexer {
        out: Vec::new(),
        buf: String::new(),
        in_escape: false,
        seen_dot: false,
    };
    let mut state = LexState::Start;
    let mut i = 0;
    loop {
        let next = chars.get(i).copied();
        let (new_state, consumed) = match next {
            None => lx.eof(state)?,
            Some(c) => lx.step(state, c),
        };
        state = new_state;
        match (next, consumed) {
            (None, _) if state == LexState::Start => break,
            (Some(_), true) => i += 1,
            _ => {}
        }
    }
    Ok(lx.out)
}

struct Lexer {
    out: Vec<Tok>,
    buf: String,
    in_escape: bool,
    seen_dot: bool,
}

impl Lexer {
    /// Emits a token built from the buffer and resets (Go's `reset`).
    fn emit(&mut self, make: fn(String) -> Tok) {
        let s = std::mem::take(&mut self.buf);
        self.out.push(make(s));
        self.in_escape = false;
        self.seen_dot = false;
    }

    fn eof(&mut self, state: LexState) -> Result<(LexState, bool), QueryError> {
        match state {
            LexState::Start => {}
            LexState::Phrase => return Err(QueryError::UnterminatedQuote),
            LexState::Op => return Ok(self.op()),
            LexState::Boost | LexState::Tilde => self.boost_or_tilde(state),
            LexState::NumOrStr => self.emit(Tok::Number),
            LexState::Str => self.emit(Tok::Str),
        }
        Ok((LexState::Start, true))
    }

    fn op(&mut self) -> (LexState, bool) {
        let tok = match self.buf.as_str() {
            "+" => Tok::Plus,
            "-" => Tok::Minus,
            ":" => Tok::Colon,
            ">" => Tok::Greater,
            "<" => Tok::Less,
            _ => Tok::Equal,
        };
        self.buf.clear();
        self.out.push(tok);
        self.in_escape = false;
        self.seen_dot = false;
        (LexState::Start, false)
    }

    fn boost_or_tilde(&mut self, state: LexState) {
        if self.buf.is_empty() {
            self.buf.push('1');
        }
        self.emit(if state == LexState::Boost {
            Tok::Boost
        } else {
            Tok::Tilde
        });
    }

    /// Inside a phrase, boost or tilde value or term: a backslash escapes the next character.
    /// Returns true when `c` was taken care of.
    fn escape(&mut self, c: char) -> bool {
        if self.in_escape {
            self.in_escape = false;
            unescape(&mut self.buf, c);
            true
        } else if c == '\\' {
            self.in_escape = true;
            true
        } else {
            false
        }
    }

    fn step(&mut self, state: LexState, c: char) -> (LexState, bool) {
        match state {
            LexState::Start => {
                if self.in_escape {
                    self.in_escape = false;
                    unescape(&mut self.buf, c);
                    return (LexState::Str, true);
                }
                let next = match c {
                    '"' => LexState::Phrase,
                    '+' | '-' | ':' | '>' | '<' | '=' => {
                        self.buf.push(c);
                        LexState::Op
                    }
                    '^' => LexState::Boost,
                    '~' => LexState::Tilde,
                    '\\' => {
                        self.in_escape = true;
                        LexState::Start
                    }
                    c if c.is_ascii_digit() => {
                        self.buf.push(c);
                        LexState::NumOrStr
                    }
                    c if !c.is_whitespace() => {
                        self.buf.push(c);
                        LexState::Str
                    }
                    _ => {
                        self.buf.clear();
                        self.seen_dot = false;
                        LexState::Start
                    }
                };
                (next, true)
            }
            LexState::Phrase => {
                if c == '"' && !self.in_escape {
                    self.emit(Tok::Phrase);
                    return (LexState::Start, true);
                }
                if !self.escape(c) {
                    self.buf.push(c);
                }
                (LexState::Phrase, true)
            }
            LexState::Op => self.op(),
            LexState::Boost | LexState::Tilde => {
                if c == ' ' && !self.in_escape {
                    self.boost_or_tilde(state);
                    return (LexState::Start, true);
                }
                if !self.escape(c) {
                    self.buf.push(c);
                }
                (state, true)
            }
            LexState::NumOrStr => {
                if c == ' ' && !self.in_escape {
                    self.emit(Tok::Number);
                    return (LexState::Start, true);
                }
                if self.in_escape {
                    // No escaped string is a valid number.
                    self.escape(c);
                    return (LexState::Str, true);
                }
                if c == '\\' {
                    self.in_escape = true;
                    return (LexState::NumOrStr, true);
                }
                self.buf.push(c);
                if c == '.' && !self.seen_dot {
                    self.seen_dot = true;
                    (LexState::NumOrStr, true)
                } else if c.is_ascii_digit() {
                    (LexState::NumOrStr, true)
                } else {
                    (LexState::Str, true)
                }
            }
            LexState::Str => {
                if matches!(c, ' ' | ':' | '^' | '~') && !self.in_escape {
                    self.emit(Tok::Str);
                    return (LexState::Start, c == ' ');
                }
                if !self.escape(c) {
                    self.buf.push(c);
                }
                (LexState::Str, true)
            }
        }
    }
}

// ---------------------------------------------------------------- parser

#[derive(Clone, Copy)]
enum Occur {
    Should,
    Must,
    MustNot,
}

/// The grammar of `query_string.y`, by recursive descent.
struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn parse(mut self) -> Result<BoolQuery, QueryError> {
        let mut q = BoolQuery::default();
        if self.tokens.is_empty() {
            return Err(QueryError::Syntax("empty query".to_string()));
        }
        while self.pos < self.tokens.len() {
            let occur = match self.peek() {
                Some(Tok::Plus) => {
                    self.pos += 1;
                    Occur::Must
                }
                Some(Tok::Minus) => {
                    self.pos += 1;
                    Occur::MustNot
                }
                _ => Occur::Should,
            };
            let mut clause = self.base()?;
            if let Some(Tok::Boost(b)) = self.peek() {
                clause.boost = b
                    .parse::<f64>()
                    .map_err(|_| QueryError::InvalidBoost(b.clone()))?;
                self.pos += 1;
            }
            match occur {
                Occur::Should => q.shoulds.push(clause),
                Occur::Must => q.musts.push(clause),
                Occur::MustNot => q.must_nots.push(clause),
            }
        }
        Ok(q)
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Result<Tok, QueryError> {
        let t = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or_else(|| QueryError::Syntax("unexpected end of query".to_string()))?;
        self.pos += 1;
        Ok(t)
    }

    fn unexpected(t: &Tok) -> QueryError {
        QueryError::Syntax(format!("unexpected {t}"))
    }

    fn base(&mut self) -> Result<Clause, QueryError> {
        match self.next()? {
            Tok::Str(s) => match self.peek() {
                Some(Tok::Tilde(_)) => {
                    let Ok(Tok::Tilde(fz)) = self.next() else {
                        unreachable!()
                    };
                    fuzzy(None, s, &fz)
                }
                Some(Tok::Colon) => {
                    self.pos += 1;
                    self.field_value(s)
                }
                _ => string_term(None, s),
            },
            Tok::Number(n) => number_term(None, n),
            Tok::Phrase(p) => Ok(clause(None, Term::Exact(p))),
            t => Err(Self::unexpected(&t)),
        }
    }

    /// After `field:`.
    fn field_value(&mut self, field: String) -> Result<Clause, QueryError> {
        match self.next()? {
            Tok::Str(s) => {
                if let Some(Tok::Tilde(_)) = self.peek() {
                    let Ok(Tok::Tilde(fz)) = self.next() else {
                        unreachable!()
                    };
                    fuzzy(Some(field), s, &fz)
                } else {
                    string_term(Some(field), s)
                }
            }
            Tok::Phrase(p) => Ok(clause(Some(field), Term::Exact(p))),
            Tok::Number(n) => number_term(Some(field), n),
            Tok::Minus => {
                let n = self.number()?;
                number_term(Some(field), format!("-{n}"))
            }
            op @ (Tok::Greater | Tok::Less) => {
                let inclusive = matches!(self.peek(), Some(Tok::Equal));
                if inclusive {
                    self.pos += 1;
                }
                let greater = op == Tok::Greater;
                if let Some(Tok::Phrase(_)) = self.peek() {
                    let Ok(Tok::Phrase(p)) = self.next() else {
                        unreachable!()
                    };
                    let t = time::OffsetDateTime::parse(
                        &p,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(|_| QueryError::InvalidTime(p.clone()))?
                    .unix_timestamp_nanos();
                    let bound = Some((t, inclusive));
                    let (min, max) = if greater {
                        (bound, None)
                    } else {
                        (None, bound)
                    };
                    return Ok(clause(Some(field), Term::DateRange { min, max }));
                }
                let text = match self.next()? {
                    Tok::Number(n) => n,
                    Tok::Minus => format!("-{}", self.number()?),
                    t => return Err(Self::unexpected(&t)),
                };
                let v = parse_number(&text)?;
                let bound = Some((v, inclusive));
                let (min, max) = if greater {
                    (bound, None)
                } else {
                    (None, bound)
                };
                Ok(clause(Some(field), Term::Range { min, max }))
            }
            t => Err(Self::unexpected(&t)),
        }
    }

    fn number(&mut self) -> Result<String, QueryError> {
        match self.next()? {
            Tok::Number(n) => Ok(n),
            t => Err(Self::unexpected(&t)),
        }
    }
}

fn clause(field: Option<String>, term: Term) -> Clause {
    Clause {
        field,
        term,
        boost: 1.0,
    }
}

fn parse_number(text: &str) -> Result<f64, QueryError> {
    text.parse::<f64>()
        .map_err(|_| QueryError::InvalidNumber(text.to_string()))
}

/// `queryStringStringToken`: `/re/` is a regexp, `*` or `?` make a wildcard, else a keyword.
fn string_term(field: Option<String>, s: String) -> Result<Clause, QueryError> {
    if s.starts_with('/') && s.ends_with('/') {
        return Err(QueryError::Unsupported(format!("regular expression {s}")));
    }
    let term = if s.contains(['*', '?']) {
        Term::Wildcard(s.chars().collect())
    } else {
        Term::Exact(s)
    };
    Ok(clause(field, term))
}

fn number_term(field: Option<String>, text: String) -> Result<Clause, QueryError> {
    let value = parse_number(&text)?;
    Ok(clause(field, Term::Number { text, value }))
}

fn fuzzy(field: Option<String>, s: String, fuzziness: &str) -> Result<Clause, QueryError> {
    let f = fuzziness
        .parse::<f64>()
        .map_err(|_| QueryError::InvalidFuzziness(fuzziness.to_string()))?;
    // Go's int() truncates; Bluge refuses more than 2 when it searches.
    let distance = f.trunc();
    if !(0.0..=2.0).contains(&distance) {
        return Err(QueryError::InvalidFuzziness(format!(
            "{fuzziness} (at most 2)"
        )));
    }
    let distance = distance as usize;
    let term = if distance == 0 {
        Term::Exact(s)
    } else {
        Term::Fuzzy {
            term: s.chars().collect(),
            distance,
        }
    };
    Ok(clause(field, term))
}

// ---------------------------------------------------------------- traits

impl FromStr for Query {
    type Err = QueryError;
    fn from_str(s: &str) -> Result<Query, QueryError> {
        Query::parse(s)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for Query {
    fn eq(&self, other: &Query) -> bool {
        self.source == other.source
    }
}

impl Eq for Query {}

impl serde::Serialize for Query {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for Query {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Query, D::Error> {
        let s = String::deserialize(d)?;
        Query::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
