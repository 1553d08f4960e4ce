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
mod tests {
    use serde_json::json;

    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn err(s: &str) -> QueryError {
        Query::parse(s).expect_err(s)
    }

    fn props(v: Value) -> Value {
        json!({ "properties": v })
    }

    fn label(v: Value) -> Value {
        json!({ "label": v })
    }

    // ------------------------------------------------------------ nakama-js suites

    #[test]
    fn nakama_js_matchmaker_queries() {
        // socket-matchmaker.test.ts: "should add to matchmaker and do basic match".
        let (q1, p1) = (q("properties.a3:bar"), props(json!({"a3": "baz"})));
        let (q2, p2) = (q("properties.a3:baz"), props(json!({"a3": "bar"})));
        assert!(q1.matches(&p2) && q2.matches(&p1));
        assert!(!q1.matches(&p1) && !q2.matches(&p2));
        // "should only add": a1:foo against a1 bar.
        assert!(!q("properties.a1:foo").matches(&props(json!({"a1": "bar"}))));
        // "match on range".
        let range = q("+properties.b1:>=10 +properties.b1:<=20");
        assert!(range.matches(&props(json!({"b1": 15.0}))));
        assert!(
            range.matches(&props(json!({"b1": 10}))) && range.matches(&props(json!({"b1": 20})))
        );
        assert!(
            !range.matches(&props(json!({"b1": 25})))
                && !range.matches(&props(json!({"b1": 9.99})))
        );
        assert!(!range.matches(&props(json!({}))));
        // "match on range and value".
        let rv = q("+properties.c1:>=10 +properties.c1:<=20 +properties.c2:foo");
        assert!(rv.matches(&props(json!({"c2": "foo", "c1": 15}))));
        assert!(!rv.matches(&props(json!({"c2": "foo", "c1": 25}))));
        assert!(!rv.matches(&props(json!({"c2": "bar", "c1": 15}))));
        // "not match on range": only one direction accepts.
        let id = "k3j9x0a1b2c3d4e5f6g7h8i9j0k1l2";
        let nr = q(&format!(
            "+properties.b2:>=10 +properties.b2:<=20 +properties.id:{id}"
        ));
        assert!(nr.matches(&props(json!({"id": id, "b2": 15}))));
        assert!(!nr.matches(&props(json!({"id": id, "b2": 25}))));
        assert!(!nr.matches(&props(json!({"id": "other", "b2": 15}))));
        // "add multiple and not match": a should plus a must.
        let multi = q(&format!("properties.a6:bar +properties.id:{id}"));
        assert!(multi.matches(&props(json!({"a6": "bar", "id": id}))));
        assert!(
            multi.matches(&props(json!({"a6": "nope", "id": id}))),
            "should is optional next to a must"
        );
        assert!(!multi.matches(&props(json!({"a6": "bar", "id": "x"}))));
        // "match authoritative".
        assert!(
            q("properties.d1:foo").matches(&props(json!({"d1": "foo", "mode": "authoritative"})))
        );
        // The default query.
        assert!(q("*").matches(&props(json!({}))));
        assert!(q("*").matches(&json!({})));
    }

    #[test]
    fn nakama_js_match_listing_queries() {
        // socket-match.test.ts: "list matches with querying".
        let skill = q("+label.skill:>=50");
        assert!(skill.matches(&label(json!({"skill": 60}))));
        assert!(skill.matches(&label(json!({"skill": 50}))));
        assert!(!skill.matches(&label(json!({"skill": 49}))));
        assert!(
            !skill.matches(&label(json!({"skill": "60"}))),
            "a string is not a number"
        );
        // "list matches with querying arrays": ids from generateid() are [0-9a-z]{30}.
        for (a, b, c) in [
            (
                "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5",
                "9zz8yy7xx6ww5vv4uu3tt2ss1rr0qq",
                "qwertyuiopasdfghjklzxcvbnm1234",
            ),
            (
                "123456789012345678901234567890",
                "000111222333444555666777888999",
                "5e10aaaaaaaaaaaaaaaaaaaaaaaaaa",
            ),
        ] {
            let doc = label(json!({"convo_ids": [a, b, c]}));
            assert!(q(&format!("+label.convo_ids:{b}")).matches(&doc), "{b}");
            assert!(q(&format!("+label.convo_ids:{a}")).matches(&doc), "{a}");
            assert!(!q("+label.convo_ids:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz").matches(&doc));
        }
    }

    #[test]
    fn brief_examples() {
        let mode = q(r#"+label.skill:>=50 label.mode:"capture flag" -label.closed:true"#);
        assert!(mode.matches(&label(
            json!({"skill": 70, "mode": "capture flag", "closed": false})
        )));
        assert!(mode.matches(&label(json!({"skill": 70, "mode": "ffa"}))));
        assert!(!mode.matches(&label(
            json!({"skill": 70, "mode": "capture flag", "closed": true})
        )));
        assert!(!mode.matches(&label(json!({"skill": 10, "mode": "capture flag"}))));
        let a = label(json!({"skill": 70, "mode": "capture flag"}));
        let b = label(json!({"skill": 70, "mode": "ffa"}));
        assert!(mode.score(&a) > mode.score(&b), "the should clause ranks");

        let region = q("properties.region:europe +properties.rank:>=5 +properties.rank:<=10");
        assert!(region.matches(&props(json!({"region": "europe", "rank": 7}))));
        assert!(region.matches(&props(json!({"region": "asia", "rank": 5}))));
        assert!(!region.matches(&props(json!({"region": "europe", "rank": 11}))));
        assert_eq!(
            region.score(&props(json!({"region": "europe", "rank": 7}))),
            Some(3.0)
        );
        assert_eq!(
            region.score(&props(json!({"region": "asia", "rank": 7}))),
            Some(2.0)
        );
    }

    // ------------------------------------------------------------ boolean semantics

    #[test]
    fn must_should_must_not() {
        let doc = json!({"a": "1x", "b": "2x"});
        // Only shoulds: at least one.
        assert!(q("a:1x b:nope").matches(&doc));
        assert!(!q("a:nope b:nope").matches(&doc));
        // Musts: all of them; shoulds optional.
        assert!(q("+a:1x +b:2x").matches(&doc));
        assert!(!q("+a:1x +b:nope").matches(&doc));
        assert!(q("+a:1x b:nope").matches(&doc));
        // Must-nots: none.
        assert!(!q("+a:1x -b:2x").matches(&doc));
        assert!(q("+a:1x -b:nope").matches(&doc));
        // Only must-nots: everything else.
        assert!(q("-a:nope").matches(&doc));
        assert!(!q("-a:1x").matches(&doc));
        assert!(q("-missing:x").matches(&json!({})));
        // Shoulds with must-nots still need one should.
        assert!(!q("a:nope -b:nope").matches(&doc));
        assert!(q("a:1x -b:nope").matches(&doc));
        // The empty query matches nothing; `*` inside a larger query is a field wildcard.
        assert!(!q("").matches(&doc));
        assert!(q("* -a:nope").matches(&doc));
    }

    #[test]
    fn scores_sum_boosts() {
        let doc = json!({"a": "x", "b": "y"});
        assert_eq!(q("a:x b:y").score(&doc), Some(2.0));
        assert_eq!(q("a:x b:z").score(&doc), Some(1.0));
        assert_eq!(q("a:x^3 b:y^0.5").score(&doc), Some(3.5));
        assert_eq!(q("+a:x^2").score(&doc), Some(2.0));
        assert_eq!(q("a:x^").score(&doc), Some(1.0), "an empty boost is 1");
        assert_eq!(q("a:\"x\"^4").score(&doc), Some(4.0));
        assert_eq!(q("*").score(&doc), Some(1.0));
        assert_eq!(q("a:z").score(&doc), None);
        // Boosts never change what matches.
        assert!(!q("+a:z^100").matches(&doc));
    }

    // ------------------------------------------------------------ terms

    #[test]
    fn strings_are_exact_keywords() {
        let doc = label(json!({"mode": "Capture Flag", "name": "x"}));
        assert!(q(r#"label.mode:"Capture Flag""#).matches(&doc));
        assert!(
            !q(r#"label.mode:"capture flag""#).matches(&doc),
            "case-sensitive"
        );
        assert!(
            !q("label.mode:Capture").matches(&doc),
            "whole value, not a token"
        );
        assert!(!q("label.name:X").matches(&doc));
        assert!(
            q(r#"label.mode:Capture\ Flag"#).matches(&doc),
            "an escaped space"
        );
        assert!(
            q(r#"label.q:"say \"hi\" \\ ok""#).matches(&label(json!({"q": "say \"hi\" \\ ok"})))
        );
        // A backslash before an ordinary character stays.
        assert!(q(r#"label.p:a\b"#).matches(&label(json!({"p": "a\\b"}))));
        // Fields may contain escaped colons; values may contain a `-` or `+`.
        assert!(q(r#"label.a\:b:c"#).matches(&json!({"label": {"a:b": "c"}})));
        assert!(q("label.id:ab-cd+ef").matches(&label(json!({"id": "ab-cd+ef"}))));
        assert!(q(r#"label.e:"""#).matches(&label(json!({"e": ""}))));
    }

    #[test]
    fn numbers() {
        let doc = label(json!({"n": 5, "f": 5.5, "neg": -3, "s": "5", "big": 1e20}));
        assert!(q("label.n:5").matches(&doc));
        assert!(q("label.n:5.0").matches(&doc));
        assert!(q("label.n:5.").matches(&doc));
        assert!(!q("label.n:6").matches(&doc));
        assert!(q("label.f:5.5").matches(&doc));
        assert!(q("label.neg:-3").matches(&doc));
        assert!(q("label.neg:>-4").matches(&doc) && !q("label.neg:<-3").matches(&doc));
        assert!(q("label.neg:<=-3").matches(&doc));
        // A number term also matches the same text as a string, but only that text.
        assert!(q("label.s:5").matches(&doc));
        assert!(!q("label.s:5.0").matches(&doc));
        assert!(!q("label.s:>=1").matches(&doc), "ranges are numeric only");
        assert!(q("label.big:>1000000").matches(&doc));
        // Exclusive and inclusive bounds.
        assert!(q("label.n:>=5").matches(&doc) && !q("label.n:>5").matches(&doc));
        assert!(q("label.n:<=5").matches(&doc) && !q("label.n:<5").matches(&doc));
        assert!(q("label.n:<5.5").matches(&doc) && q("label.n:>4.9").matches(&doc));
        // Space after the colon is skipped, as upstream's lexer does.
        assert!(q("label.n: 5").matches(&doc));
        // Strings that look like versions stay strings.
        assert!(q("label.v:1.2.3").matches(&label(json!({"v": "1.2.3"}))));
        // Bare numbers search every field.
        assert!(q("5.5").matches(&doc) && !q("7").matches(&doc));
    }

    #[test]
    fn booleans() {
        let doc = label(json!({"open": true, "closed": false}));
        assert!(q("label.open:true").matches(&doc));
        assert!(q("label.open:T").matches(&doc), "Nakama's indexed spelling");
        assert!(!q("label.open:false").matches(&doc) && !q("label.open:F").matches(&doc));
        assert!(q("label.closed:false").matches(&doc) && q("label.closed:F").matches(&doc));
        assert!(!q("label.open:1").matches(&doc));
        assert!(q("-label.closed:true").matches(&doc));
        assert!(q("-label.closed:true").matches(&label(json!({}))));
        assert!(!q("label.open:\"yes\"").matches(&doc));
    }

    #[test]
    fn nested_fields_and_arrays() {
        let doc = json!({
            "label": {
                "a": {"b": {"c": "deep"}},
                "dotted.key": 3,
                "tags": ["x", "y", 7, true, null],
                "teams": [{"name": "red", "size": 2}, {"name": "blue", "size": 4}],
                "matrix": [[1, 2], [3, 4]],
            },
            "node": "n1",
        });
        assert!(q("label.a.b.c:deep").matches(&doc));
        assert!(
            !q("label.a.b:deep").matches(&doc),
            "an object is not a value"
        );
        assert!(!q("label.a.b.c.d:deep").matches(&doc));
        assert!(q("label.dotted.key:3").matches(&doc));
        assert!(q("+label.tags:y").matches(&doc) && q("+label.tags:7").matches(&doc));
        assert!(q("+label.tags:true").matches(&doc));
        assert!(q("+label.teams.name:blue +label.teams.size:>=4").matches(&doc));
        assert!(!q("+label.teams.size:>4").matches(&doc));
        assert!(q("label.matrix:4").matches(&doc));
        // A field without the `label.` prefix is a top-level field of the document.
        assert!(q("node:n1").matches(&doc));
        assert!(!q("tags:x").matches(&doc));
        assert!(!q("label:deep").matches(&doc));
    }

    #[test]
    fn bare_terms_search_every_field() {
        let doc = json!({"label": {"a": {"b": "needle"}, "list": ["pin"]}});
        assert!(q("needle").matches(&doc));
        assert!(q("pin").matches(&doc));
        assert!(q(r#""needle""#).matches(&doc));
        assert!(q("need*").matches(&doc));
        assert!(!q("haystack").matches(&doc));
        assert!(q("+needle -haystack").matches(&doc));
    }

    #[test]
    fn wildcards() {
        let doc = label(json!({"mode": "capture flag", "n": 3, "on": true, "multi": "a\nb"}));
        assert!(q("label.mode:capt*").matches(&doc));
        assert!(q("label.mode:*flag").matches(&doc));
        assert!(q("label.mode:c?pture*").matches(&doc));
        assert!(q("label.mode:*").matches(&doc));
        assert!(!q("label.mode:capt").matches(&doc));
        assert!(!q("label.mode:*x*").matches(&doc));
        assert!(!q("label.mode:capture?").matches(&doc));
        assert!(q("label.mode:**ture***").matches(&doc));
        // `f:*` is "the field exists", numbers included.
        assert!(q("label.n:*").matches(&doc) && !q("label.missing:*").matches(&doc));
        assert!(!q("label.n:3*").matches(&doc));
        assert!(q("label.on:T*").matches(&doc));
        assert!(q("+label.mode:* -label.missing:*").matches(&doc));
        assert!(wildcard(&"a*b*c".chars().collect::<Vec<_>>(), "aXXbYYbc"));
        assert!(!wildcard(&"a*b*c".chars().collect::<Vec<_>>(), "aXXbYYb"));
        assert!(wildcard(&[], ""));
    }

    #[test]
    fn fuzzy_terms() {
        let doc = label(json!({"name": "kitten"}));
        assert!(q("label.name:sitten~1").matches(&doc));
        assert!(q("label.name:sitten~").matches(&doc), "a bare tilde is 1");
        assert!(!q("label.name:sittin~1").matches(&doc));
        assert!(q("label.name:sittin~2").matches(&doc));
        assert!(q("label.name:kitten~0").matches(&doc) && !q("label.name:kittens~0").matches(&doc));
        assert!(q("sitten~1").matches(&doc), "bare fuzzy term");
        assert!(
            q("label.name:kitten~1.9").matches(&doc),
            "fuzziness truncates"
        );
        assert!(within_distance(&"ab".chars().collect::<Vec<_>>(), "ba", 2));
        assert!(!within_distance(&"abc".chars().collect::<Vec<_>>(), "", 2));
    }

    #[test]
    fn date_ranges() {
        let doc = label(
            json!({"start": "2024-03-01T12:00:00Z", "day": "2024-03-01", "local": "2024-03-01 08:30:00"}),
        );
        assert!(q(r#"label.start:>"2024-01-01T00:00:00Z""#).matches(&doc));
        assert!(!q(r#"label.start:<"2024-01-01T00:00:00Z""#).matches(&doc));
        assert!(q(r#"label.start:>="2024-03-01T12:00:00Z""#).matches(&doc));
        assert!(!q(r#"label.start:>"2024-03-01T12:00:00Z""#).matches(&doc));
        assert!(
            q(r#"label.start:<="2024-03-01T13:00:00+01:00""#).matches(&doc),
            "offsets count"
        );
        assert!(
            q(r#"+label.day:>="2024-03-01T00:00:00Z" +label.day:<"2024-03-01T00:00:01Z""#)
                .matches(&doc)
        );
        assert!(q(r#"label.local:<"2024-03-01T08:31:00Z""#).matches(&doc));
        assert!(
            !q(r#"label.start:>"2024-01-01T00:00:00Z""#).matches(&label(json!({"start": "soon"})))
        );
        assert!(!q(r#"label.start:>"2024-01-01T00:00:00Z""#).matches(&label(json!({"start": 5}))));
        assert!(matches!(
            err(r#"label.start:>"yesterday""#),
            QueryError::InvalidTime(_)
        ));
    }

    // ------------------------------------------------------------ lexer quirks and errors

    #[test]
    fn lexer_follows_upstream() {
        use Tok::*;
        let s = |x: &str| Str(x.to_string());
        let n = |x: &str| Number(x.to_string());
        assert_eq!(
            lex("+label.skill:>=50").unwrap(),
            vec![Plus, s("label.skill"), Colon, Greater, Equal, n("50")]
        );
        assert_eq!(
            lex("a:b^2 c~").unwrap(),
            vec![
                s("a"),
                Colon,
                s("b"),
                Boost("2".into()),
                s("c"),
                Tilde("1".into())
            ]
        );
        assert_eq!(
            lex(r#"f:"x y""#).unwrap(),
            vec![s("f"), Colon, Phrase("x y".into())]
        );
        // A number running into a boost becomes a string.
        assert_eq!(lex("f:10^2").unwrap(), vec![s("f"), Colon, s("10^2")]);
        // Tabs separate terms but do not end one.
        assert_eq!(lex("a\tb").unwrap(), vec![s("a\tb")]);
        assert_eq!(lex("\ta  b").unwrap(), vec![s("a"), s("b")]);
        assert_eq!(lex(r"\+a").unwrap(), vec![s("+a")]);
        assert_eq!(lex(r"1\a").unwrap(), vec![s(r"1\a")]);
        assert_eq!(lex("-5").unwrap(), vec![Minus, n("5")]);
        assert_eq!(lex("a-b").unwrap(), vec![s("a-b")]);
    }

    #[test]
    fn invalid_queries_are_errors() {
        assert_eq!(err(r#"label.mode:"open"#), QueryError::UnterminatedQuote);
        for bad in [
            "label.x:",
            "+",
            "-",
            ":x",
            "label.x:>abc",
            "label.x:>=",
            "label.x::y",
            "  ",
            "a:-b",
            "^2",
            "a:b:c",
            "~1",
        ] {
            assert!(
                matches!(err(bad), QueryError::Syntax(_)),
                "{bad:?} -> {:?}",
                Query::parse(bad)
            );
        }
        assert!(matches!(err("a:b^x"), QueryError::InvalidBoost(_)));
        assert!(matches!(err("a:b~x"), QueryError::InvalidFuzziness(_)));
        assert!(matches!(err("a:b~3"), QueryError::InvalidFuzziness(_)));
        assert!(matches!(err("label.x:/ab+/"), QueryError::Unsupported(_)));
        assert!(matches!(err("/"), QueryError::Unsupported(_)));
        // A number that will not parse.
        assert!(matches!(err("f:>10^2"), QueryError::Syntax(_)));
        assert!(err("a:b~x").to_string().contains("invalid fuzziness"));
    }

    #[test]
    fn text_round_trips() {
        let src = "+properties.b1:>=10 +properties.b1:<=20";
        let query = q(src);
        assert_eq!(query.as_str(), src);
        assert_eq!(query.to_string(), src);
        assert_eq!(query, src.parse::<Query>().unwrap());
        let json = serde_json::to_string(&query).unwrap();
        assert_eq!(json, format!("\"{src}\""));
        let back: Query = serde_json::from_str(&json).unwrap();
        assert_eq!(back, query);
        assert!(back.matches(&props(json!({"b1": 12}))));
        assert!(serde_json::from_str::<Query>("\"a:\\\"x\"").is_err());
        assert!(Query::match_all().matches(&json!(null)));
    }
}
