//! The rules `docs/openapi.json` states are the rules the code enforces,
//! so that neither can change without the other. Each rule of the
//! document — a bound, a length, a pattern — is read from the document and
//! held against the code two ways: its figure against the constant the
//! code checks with, and its verdict on a table of values (the document's
//! own boundaries, and the awkward cases: white space, control characters,
//! letters beyond ASCII) against the verdict of the code's parser. A rule
//! the code gains without the document (or the other way round) fails here
//! before schemathesis (`fuzz.rs`) has to stumble on it.

use serde_json::{json, Value};
use streamia_testkit::workspace_root;

fn document() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("docs/openapi.json")).unwrap();
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

fn schema(doc: &Value, name: &str) -> Value {
    let schema = doc["components"]["schemas"][name].clone();
    assert!(schema.is_object(), "no schema {name}");
    schema
}

fn query_parameter(doc: &Value, path: &str, name: &str) -> Value {
    let parameters = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
    let found = parameters.iter().find(|p| p["name"] == name).unwrap_or_else(|| {
        panic!("{path}: no parameter {name}");
    });
    found["schema"].clone()
}

fn number(schema: &Value, keyword: &str) -> i64 {
    schema[keyword]
        .as_i64()
        .unwrap_or_else(|| panic!("no {keyword} in {schema}"))
}

/// Does a string schema of the document (`minLength`, `maxLength`,
/// `pattern`) take `value`? Lengths count characters, as JSON Schema does;
/// a pattern matches anywhere unless it anchors itself.
fn doc_takes(schema: &Value, value: &str) -> bool {
    let n = value.chars().count() as u64;
    let within = schema["minLength"].as_u64().is_none_or(|min| n >= min)
        && schema["maxLength"].as_u64().is_none_or(|max| n <= max);
    let matches = schema["pattern"].as_str().is_none_or(|pattern| {
        regex::Regex::new(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .is_match(value)
    });
    within && matches
}

/// Values every text rule is tried on, besides its own boundaries.
fn awkward() -> Vec<String> {
    [
        "",
        " ",
        "\n",
        "a",
        "ab",
        "ana",
        " ana",
        "ana ",
        "ana\n",
        "a b",
        "ñandú",
        "<b>",
        "a\u{1}b",
        "a\u{7f}",
        "\u{85}",
        "x\u{85}",
        "\u{a0}",
        "\u{3000}x\u{3000}",
        "\u{feff}",
        "\t\tx",
        "line one\nline two",
        "ana@example.com",
        "Ana@Example.COM",
        " ana@example.com",
        "ana@example",
        "ana@@example.com",
        "ana@example..com",
        "ana@.example.com",
        "ana@example.com.",
        "a b@example.com",
        "ñ@ñ.es",
        "en",
        "pt-BR",
        "zh-Hant",
        "english",
        "EN",
        "en-",
        "s3cret-pass",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `value`s around the document's own bounds: `min - 1`, `min`, `max`, `max + 1` characters.
fn boundaries(schema: &Value, fill: char) -> Vec<String> {
    let mut out = Vec::new();
    for keyword in ["minLength", "maxLength"] {
        if let Some(n) = schema[keyword].as_u64() {
            for len in [n.saturating_sub(1), n, n + 1] {
                out.push(std::iter::repeat_n(fill, len as usize).collect());
            }
        }
    }
    out
}

/// Holds the document's verdict on each value against `code`'s.
fn agree(name: &str, schema: &Value, extra: &[String], code: impl Fn(&str) -> bool) {
    let mut values = awkward();
    values.extend(boundaries(schema, 'a'));
    values.extend(extra.iter().cloned());
    let mut disagreements = Vec::new();
    for value in &values {
        let (doc, code) = (doc_takes(schema, value), code(value));
        if doc != code {
            let shown: String = value.chars().take(40).collect();
            disagreements.push(format!(
                "{shown:?} ({} chars): document {}, code {}",
                value.chars().count(),
                if doc { "takes it" } else { "refuses it" },
                if code { "takes it" } else { "refuses it" },
            ));
        }
    }
    assert!(disagreements.is_empty(), "{name}:\n{}", disagreements.join("\n"));
}

#[test]
fn account_rules_are_the_users_services() {
    use streamia_users::domain::*;
    let doc = document();
    let email = schema(&doc, "Email");
    assert_eq!(number(&email, "maxLength"), EMAIL_MAX as i64);
    let local_max = format!("{{1,{EMAIL_LOCAL_MAX}}}@");
    assert!(email["pattern"].as_str().unwrap().contains(&local_max), "{email}");
    let local = |n: usize| format!("{}@example.com", "a".repeat(n));
    let long = |n: usize| format!("a@{}.com", "b".repeat(n));
    let extra = [local(64), local(65), long(246), long(247), long(248)];
    agree("Email", &email, &extra, |v| Email::parse(v).is_ok());

    let password = schema(&doc, "Password");
    assert_eq!(number(&password, "minLength"), PASSWORD_MIN as i64);
    assert_eq!(number(&password, "maxLength"), PASSWORD_MAX as i64);
    agree("Password", &password, &[], |v| Password::parse(v, "password").is_ok());

    let username = schema(&doc, "Username");
    assert_eq!(number(&username, "minLength"), USERNAME_MIN as i64);
    assert_eq!(number(&username, "maxLength"), USERNAME_MAX as i64);
    agree("Username", &username, &[], |v| Username::parse(v).is_ok());
}

#[test]
fn catalogue_rules_are_the_movies_services() {
    use streamia_movies::domain::*;
    use streamia_movies::query::{ListQuery, MAX_SEARCH_WORDS};
    let doc = document();
    let current_year = 2026;
    // One field at a time on an otherwise valid movie.
    let with = |field: &str, value: Value| {
        let mut movie = json!({"title": "Alien", "description": "In space", "releaseYear": 1979});
        movie[field] = value;
        // A value of the wrong type is refused as the body is read (400 `invalid_json`).
        serde_json::from_value::<MovieFields>(movie)
            .is_ok_and(|fields| MovieInput::parse(&fields, current_year).is_ok())
    };
    for (name, field, max) in [
        ("Title", "title", MAX_TITLE),
        ("Description", "description", MAX_DESCRIPTION),
        ("Name", "director", MAX_NAME),
    ] {
        let rule = schema(&doc, name);
        assert_eq!(number(&rule, "maxLength"), max as i64, "{name}");
        agree(name, &rule, &[], |v| with(field, json!(v)));
    }
    let names = schema(&doc, "Names");
    assert_eq!(number(&names, "maxItems"), MAX_LIST_ITEMS as i64);
    let name = schema(&doc, "Name");
    agree("Names (genres)", &name, &[], |v| with("genres", json!([v])));
    agree("Names (cast)", &name, &[], |v| with("cast", json!([v])));
    let max = MAX_LIST_ITEMS;
    let list = |n: usize| json!((0..n).map(|i| format!("name {i}")).collect::<Vec<_>>());
    assert!(with("cast", list(max)) && !with("cast", list(max + 1)), "maxItems");

    let year = schema(&doc, "ReleaseYear");
    assert_eq!(number(&year, "minimum"), i64::from(FIRST_FILM_YEAR));
    assert_eq!(year["x-maximum"], "next-year", "the served document states next year");
    let next = i64::from(current_year) + 1;
    for (value, ok) in [
        (json!(1887), false),
        (json!(1888), true),
        (json!(next), true),
        (json!(next + 1), false),
        (json!(1979.0), true),
        (json!(1979.5), false),
    ] {
        assert_eq!(with("releaseYear", value.clone()), ok, "releaseYear {value}");
    }
    let duration = schema(&doc, "DurationMinutes");
    assert_eq!(number(&duration, "minimum"), 1);
    assert_eq!(number(&duration, "maximum"), i64::from(MAX_DURATION_MINUTES));
    for (value, ok) in [(0, false), (1, true), (1000, true), (1001, false)] {
        assert_eq!(with("durationMinutes", json!(value)), ok, "durationMinutes {value}");
    }

    // The catalogue's query: genre, search and year as the document bounds them.
    let query =
        |name: &str, value: &str| ListQuery::parse(|k| (k == name).then(|| value.to_owned()), current_year).is_ok();
    for (param, max) in [("genre", MAX_NAME), ("search", MAX_TITLE)] {
        let rule = query_parameter(&doc, "/api/movies", param);
        assert_eq!(number(&rule, "maxLength"), max as i64, "{param}");
        let at = "g".repeat(max);
        assert!(query(param, &at) && !query(param, &format!("{at}g")), "{param}");
    }
    let parameters = doc["paths"]["/api/movies"]["get"]["parameters"].as_array().unwrap();
    let search = parameters.iter().find(|p| p["name"] == "search").unwrap();
    let said = search["description"].as_str().unwrap_or_default();
    assert!(said.contains(&format!("the first {MAX_SEARCH_WORDS} words")), "{said}");
    let words = |n: usize| vec!["w"; n].join(" ");
    assert!(
        query("search", &words(MAX_SEARCH_WORDS + 5)),
        "more words are not refused"
    );
    // Every order the document offers is taken (with a search), and no other.
    let sorted = |value: &str| {
        ListQuery::parse(
            |k| match k {
                "sort" => Some(value.to_owned()),
                "search" => Some("alien".to_owned()),
                _ => None,
            },
            current_year,
        )
        .is_ok()
    };
    let orders = query_parameter(&doc, "/api/movies", "sort")["enum"].clone();
    for order in orders.as_array().unwrap() {
        assert!(sorted(order.as_str().unwrap()), "{order}");
    }
    assert!(!sorted("relevance:desc") && !sorted("rating"));
    assert_eq!(
        query_parameter(&doc, "/api/movies", "year")["$ref"],
        "#/components/schemas/ReleaseYear"
    );
    assert!(query("year", "1888") && !query("year", "1887") && !query("year", &(next + 1).to_string()));

    let language = schema(&doc, "LanguageCode");
    agree("LanguageCode", &language, &[], |v| {
        streamia_movies::media::language_code(v).is_some()
    });
}

#[test]
fn comment_favourite_rating_and_paging_rules_are_the_services() {
    let doc = document();
    let content = schema(&doc, "CommentContent");
    assert_eq!(
        number(&content, "maxLength"),
        streamia_comments::MAX_CONTENT_CHARS as i64
    );
    agree("CommentContent", &content, &[], |v| {
        streamia_comments::Content::parse(v).is_ok()
    });

    let note = schema(&doc, "Note");
    assert_eq!(number(&note, "maxLength"), streamia_favorites::MAX_NOTE_CHARS as i64);
    agree("Note", &note, &[], |v| streamia_favorites::Note::parse(Some(v)).is_ok());

    let score = schema(&doc, "Score");
    assert_eq!(number(&score, "minimum"), streamia_ratings::domain::MIN_SCORE);
    assert_eq!(number(&score, "maximum"), streamia_ratings::domain::MAX_SCORE);
    for (value, ok) in [
        (json!(0), false),
        (json!(1), true),
        (json!(5), true),
        (json!(6), false),
        (json!(4.0), true),
        (json!(4.5), false),
        (json!("4"), false),
    ] {
        assert_eq!(streamia_ratings::Score::parse(&value).is_ok(), ok, "score {value}");
    }

    let parameters = &doc["components"]["parameters"];
    let page = &parameters["page"]["schema"];
    let limit = &parameters["limit"]["schema"];
    assert_eq!(number(page, "minimum"), 1);
    assert_eq!(number(page, "maximum"), i64::from(streamia_api::page::MAX_PAGE));
    assert_eq!(number(limit, "minimum"), 1);
    assert_eq!(number(limit, "maximum"), i64::from(streamia_api::page::MAX_LIMIT));
    let pages = |page: &str, limit: &str| streamia_api::Page::parse(Some(page), Some(limit)).is_ok();
    let max_page = streamia_api::page::MAX_PAGE.to_string();
    let past_max = (streamia_api::page::MAX_PAGE + 1).to_string();
    assert!(pages("1", "1") && pages(&max_page, "100"));
    assert!(!pages("0", "20") && !pages(&past_max, "20") && !pages("1", "0") && !pages("1", "101"));
}
