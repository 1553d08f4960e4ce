//! Unit tests of `query`.
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
