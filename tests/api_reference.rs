//! `docs/API.md`, the API reference in the repository, is rendered here from the OpenAPI
//! document the code generates (the one `tests/openapi.rs` holds equal to
//! shared/openapi.json), so the two cannot drift: the test fails when the checked-in file
//! differs. `UPDATE_OPENAPI=1 cargo nextest run -E 'test(/^openapi::|^api_reference::/)'`
//! rewrites both.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::Value;
use shared::error::AppError;

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md");

/// What the document cannot say by itself, in front of what it says.
const PREFACE: &str = "\
Everything is JSON (`Content-Type: application/json`), field names are camelCase, times
are RFC 3339 UTC strings, ids are opaque strings. Answers may carry fields beyond the
ones listed here; clients ignore what they do not know.

**Authentication.** `Authorization: Bearer <accessToken>`, the access token of
register, login, refresh or `mfa/verify`: an RS256 JWT whose keys are published at
`GET /.well-known/jwks.json` (issuer and audience in `GET
/.well-known/openid-configuration`). Operations marked *none* work without it;
*optional* ones show more when the caller is known.

**Errors.** Every answer that is not 2xx carries the envelope
`{ \"error\": { \"code\", \"message\", \"details\"? }, \"requestId\" }` (`details`: field-level
problems, with `VALIDATION_ERROR` only). The codes each status carries are in
[Error codes](#error-codes). An unknown route answers 404 `NOT_FOUND`, a known path with
another method 405 `METHOD_NOT_ALLOWED`; a 429 `RATE_LIMITED` carries `Retry-After`
(seconds).

**Pages.** Lists answer `{ \"items\": [...], \"nextCursor\": string | null }`; `limit` is
1 to 100 (20 when absent); pass `nextCursor` back as `cursor`. Cursors are opaque and
signed: a forged or malformed one answers 400 `INVALID_CURSOR`.

The same document is served at `GET /api/openapi.json` and rendered for browsers at
`GET /api/docs`.
";

fn document() -> Value {
    serde_json::from_str(&crate::openapi::generated()).unwrap()
}

/// A schema's type in a few words: `string`, `array of User`, `string or null`.
fn type_of(schema: &Value) -> String {
    if let Some(name) = schema["$ref"].as_str() {
        return format!("[`{0}`](#{1})", name.rsplit('/').next().unwrap(), anchor(name.rsplit('/').next().unwrap()));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema[combinator].as_array() {
            let joiner = if combinator == "allOf" { " and " } else { " or " };
            return parts.iter().map(type_of).collect::<Vec<_>>().join(joiner);
        }
    }
    let one = |t: &str| match t {
        "array" => format!("array of {}", type_of(&schema["items"])),
        "object" if schema["additionalProperties"].is_object() => {
            format!("map of {}", type_of(&schema["additionalProperties"]))
        }
        other => other.to_owned(),
    };
    let mut text = match &schema["type"] {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).map(one).collect::<Vec<_>>().join(" or "),
        _ => "any".to_owned(),
    };
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| format!("`{}`", v.as_str().unwrap_or_default())).collect();
        text = format!("{text}: {}", values.join(", "));
    }
    text
}

/// The limits a schema states: length, range, pattern, format.
fn rules_of(schema: &Value) -> String {
    let mut rules = Vec::new();
    if let Some(format) = schema["format"].as_str() {
        rules.push(format.to_owned());
    }
    for (key, label) in
        [("minLength", "min length"), ("maxLength", "max length"), ("minimum", "min"), ("maximum", "max")]
    {
        if let Some(v) = schema[key].as_u64() {
            rules.push(format!("{label} {v}"));
        }
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        rules.push(format!("`{pattern}`"));
    }
    rules.join(", ")
}

/// One line of a Markdown table cell: pipes escaped, line breaks joined.
fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

fn anchor(name: &str) -> String {
    name.to_lowercase().replace(|c: char| !c.is_alphanumeric() && c != '-' && c != '_', "")
}

fn schema_ref(content: &Value) -> Option<String> {
    content["application/json"]["schema"].as_object().map(|_| type_of(&content["application/json"]["schema"]))
}

fn who_may_call(operation: &Value) -> &'static str {
    match operation["security"].as_array().map(Vec::as_slice) {
        Some([]) | None => "none",
        Some([only]) if only.as_object().is_some_and(|o| o.contains_key("bearer")) => "bearer",
        Some(_) => "optional",
    }
}

/// The error codes a response description names (`CODE` words at the start of a clause).
fn codes_in(description: &str) -> Vec<String> {
    description
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .filter(|word| word.len() >= 4 && word.contains(|c: char| c.is_ascii_uppercase()) && word != &"JSON")
        .filter(|word| word.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

fn render(document: &Value) -> String {
    let mut out = String::new();
    let info = &document["info"];
    writeln!(
        out,
        "# {} — API reference (version {})\n",
        info["title"].as_str().unwrap(),
        info["version"].as_str().unwrap()
    )
    .unwrap();
    writeln!(
        out,
        "<!-- Generated from shared/openapi.json by tests/api_reference.rs; do not edit by hand. -->\n\n{}\n\n{PREFACE}",
        info["description"].as_str().unwrap_or_default()
    )
    .unwrap();
    writeln!(out, "Servers:\n").unwrap();
    for server in document["servers"].as_array().unwrap() {
        writeln!(
            out,
            "- `{}`: {}",
            server["url"].as_str().unwrap(),
            server["description"].as_str().unwrap_or_default()
        )
        .unwrap();
    }

    let mut by_tag: BTreeMap<String, Vec<(String, String, &Value)>> = BTreeMap::new();
    let mut codes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let tag = operation["tags"][0].as_str().unwrap_or("other").to_owned();
            by_tag.entry(tag).or_default().push((path.clone(), method.to_uppercase(), operation));
            for (status, response) in operation["responses"].as_object().unwrap() {
                let found = codes_in(response["description"].as_str().unwrap_or_default());
                codes.entry(status.clone()).or_default().extend(found);
            }
        }
    }

    writeln!(out, "\n## Operations\n").unwrap();
    for tag in document["tags"].as_array().unwrap() {
        let name = tag["name"].as_str().unwrap();
        let operations = by_tag.get(name).map(Vec::as_slice).unwrap_or_default();
        writeln!(out, "- [{name}](#{}) ({} operations)", anchor(name), operations.len()).unwrap();
    }
    for tag in document["tags"].as_array().unwrap() {
        let name = tag["name"].as_str().unwrap();
        writeln!(out, "\n## {name}\n").unwrap();
        if let Some(description) = tag["description"].as_str() {
            writeln!(out, "{description}\n").unwrap();
        }
        writeln!(out, "| method | path | auth | summary |\n|---|---|---|---|").unwrap();
        let operations = by_tag.get(name).cloned().unwrap_or_default();
        for (path, method, operation) in &operations {
            writeln!(
                out,
                "| {method} | `{path}` | {} | {} |",
                who_may_call(operation),
                cell(operation["summary"].as_str().unwrap())
            )
            .unwrap();
        }
        for (path, method, operation) in &operations {
            render_operation(&mut out, path, method, operation);
        }
    }

    writeln!(out, "\n## Error codes\n\nThe codes each status carries, as the operations above name them.\n").unwrap();
    writeln!(out, "| status | codes |\n|---|---|").unwrap();
    for (status, found) in codes.iter().filter(|(status, _)| !status.starts_with('2')) {
        let list: Vec<String> = found.iter().map(|c| format!("`{c}`")).collect();
        writeln!(out, "| {status} | {} |", list.join(", ")).unwrap();
    }

    writeln!(out, "\n## Schemas").unwrap();
    for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
        render_schema(&mut out, name, schema);
    }
    out
}

fn render_operation(out: &mut String, path: &str, method: &str, operation: &Value) {
    writeln!(
        out,
        "\n### {method} `{path}`\n\n**{}** (auth: {})\n",
        operation["summary"].as_str().unwrap(),
        who_may_call(operation)
    )
    .unwrap();
    if let Some(description) = operation["description"].as_str() {
        writeln!(out, "{description}\n").unwrap();
    }
    if let Some(parameters) = operation["parameters"].as_array().filter(|p| !p.is_empty()) {
        writeln!(out, "| parameter | in | type | required | description |\n|---|---|---|---|---|").unwrap();
        for p in parameters {
            let rules = rules_of(&p["schema"]);
            let description = cell(p["description"].as_str().unwrap_or_default());
            writeln!(
                out,
                "| `{}` | {} | {}{} | {} | {description} |",
                p["name"].as_str().unwrap(),
                p["in"].as_str().unwrap(),
                type_of(&p["schema"]),
                if rules.is_empty() { String::new() } else { format!(" ({rules})") },
                if p["required"].as_bool() == Some(true) { "yes" } else { "no" },
            )
            .unwrap();
        }
        writeln!(out).unwrap();
    }
    if let Some(body) = schema_ref(&operation["requestBody"]["content"]) {
        writeln!(out, "Request body: {body}\n").unwrap();
    }
    writeln!(out, "| status | meaning | body |\n|---|---|---|").unwrap();
    for (status, response) in operation["responses"].as_object().unwrap() {
        let body = schema_ref(&response["content"]).unwrap_or_else(|| "–".to_owned());
        writeln!(out, "| {status} | {} | {body} |", cell(response["description"].as_str().unwrap_or_default()))
            .unwrap();
    }
}

fn render_schema(out: &mut String, name: &str, schema: &Value) {
    writeln!(out, "\n### {name}\n").unwrap();
    if let Some(description) = schema["description"].as_str() {
        writeln!(out, "{}\n", description.trim()).unwrap();
    }
    // An object, or an object that extends others (`allOf`: the others, then its own fields).
    let mut parts = vec![schema];
    if let Some(all) = schema["allOf"].as_array() {
        let bases: Vec<String> = all.iter().filter(|p| p["$ref"].is_string()).map(type_of).collect();
        if !bases.is_empty() {
            writeln!(out, "Everything of {}, and:\n", bases.join(", ")).unwrap();
        }
        parts = all.iter().filter(|p| p["properties"].is_object()).collect();
    }
    let objects: Vec<&Value> = parts.into_iter().filter(|p| p["properties"].is_object()).collect();
    if objects.is_empty() {
        writeln!(out, "Type: {}", type_of(schema)).unwrap();
        return;
    }
    writeln!(out, "| field | type | required | description |\n|---|---|---|---|").unwrap();
    for object in objects {
        let required: BTreeSet<&str> =
            object["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (field, property) in object["properties"].as_object().unwrap() {
            let rules = rules_of(property);
            writeln!(
                out,
                "| `{field}` | {}{} | {} | {} |",
                type_of(property),
                if rules.is_empty() { String::new() } else { format!(" ({rules})") },
                if required.contains(field.as_str()) { "yes" } else { "no" },
                cell(property["description"].as_str().unwrap_or_default()),
            )
            .unwrap();
        }
    }
    if schema["additionalProperties"] == Value::Bool(false) {
        writeln!(out, "\nNo other fields are accepted.").unwrap();
    }
}

#[test]
fn checked_in_reference_is_current() {
    let rendered = render(&document());
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(std::path::Path::new(CHECKED_IN).parent().unwrap()).unwrap();
        std::fs::write(CHECKED_IN, &rendered).unwrap();
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in == rendered,
        "docs/API.md is stale: run `UPDATE_OPENAPI=1 cargo nextest run -E 'test(/^openapi::|^api_reference::/)'` and commit it"
    );
}

/// The reference names every operation and every error code the service can answer.
#[test]
fn reference_covers_every_operation_and_code() {
    let document = document();
    let rendered = render(&document);
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let heading = format!("### {} `{path}`", method.to_uppercase());
            assert!(rendered.contains(&heading), "{heading} missing");
        }
    }
    for error in every_error() {
        let code = error.code();
        assert!(rendered.contains(&format!("`{code}`")), "error code {code} is in no response of the document");
    }
}

/// One of each error; the match below stops compiling when a variant is added.
fn every_error() -> Vec<AppError> {
    use AppError::*;
    let all = vec![
        Validation(vec![]),
        InvalidJson(String::new()),
        InvalidCursor,
        Unauthorized,
        InvalidCredentials,
        InvalidToken,
        InvalidCode,
        Forbidden(""),
        EmailNotVerified,
        AccountDeactivated,
        Reactivatable { reactivation_token: String::new() },
        AccountSuspended,
        MfaRequired,
        NotFound,
        MethodNotAllowed,
        UsernameTaken,
        EmailTaken,
        AlreadyReported,
        MfaAlreadyEnabled,
        MfaNotEnabled(""),
        Conflict,
        ConflictWith(""),
        AccountExists { link_token: String::new() },
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited { retry_after_secs: 1 },
        ServiceUnavailable("".into()),
        Internal("".into()),
    ];
    for error in &all {
        match error {
            Validation(_)
            | InvalidJson(_)
            | InvalidCursor
            | Unauthorized
            | InvalidCredentials
            | InvalidToken
            | InvalidCode
            | Forbidden(_)
            | EmailNotVerified
            | AccountDeactivated
            | Reactivatable { .. }
            | AccountSuspended
            | MfaRequired
            | NotFound
            | MethodNotAllowed
            | UsernameTaken
            | EmailTaken
            | AlreadyReported
            | MfaAlreadyEnabled
            | MfaNotEnabled(_)
            | Conflict
            | ConflictWith(_)
            | AccountExists { .. }
            | PayloadTooLarge
            | UnsupportedMediaType
            | RateLimited { .. }
            | ServiceUnavailable(_)
            | Internal(_) => {}
        }
    }
    all
}
