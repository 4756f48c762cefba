//! The common crate of the user service: configuration, domain types, the single-table
//! store, passwords, tokens, the HTTP error envelope and logging.

pub mod aws;
pub mod batch;
pub mod bucket;
pub mod clock;
pub mod config;
pub mod cursor;
pub mod domain;
pub mod edge;
pub mod error;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod password;
pub mod rate_limit;
pub mod schema;
pub mod services;
pub mod startup;
pub mod state;
pub mod store;
pub mod tokens;
pub mod vault;
pub mod web_tls;

pub use error::{AppError, AppResult};
pub use state::AppState;

/// The crate's modules in layers, lowest first. A module uses only modules of lower
/// layers (the `layering` test reads every `crate::` path to hold it), so the crate has
/// no import cycle: domain types know nothing of storage, the store nothing of
/// services, and nothing below `http` knows of HTTP requests.
pub const LAYERS: &[&[&str]] = &[
    &["error", "clock"],
    &["logging", "metrics", "aws", "bucket", "startup", "schema", "rate_limit", "batch", "web_tls"],
    &["domain"],
    &["config", "password"],
    &["tokens"],
    &["store"],
    &["cursor", "vault", "oidc", "edge"],
    &["state"],
    &["services"],
    &["http"],
    &["openapi"],
];

/// What may reach a log through `{:?}`: none of these shows the secret it holds.
#[cfg(test)]
mod no_secret_in_debug {
    const SECRET: &str = "correct-horse-battery-staple-93";

    fn shown(value: &impl std::fmt::Debug) -> String {
        format!("{value:?}")
    }

    #[test]
    fn request_bodies_hide_passwords_and_tokens() {
        let body = format!(r#"{{"identifier":"ada","password":"{SECRET}","deviceToken":"{SECRET}"}}"#);
        let login: crate::services::accounts::LoginRequest = serde_json::from_str(&body).unwrap();
        assert!(!shown(&login).contains(SECRET), "{login:?}");
        let change: crate::services::accounts::ChangePasswordRequest =
            serde_json::from_str(&format!(r#"{{"currentPassword":"{SECRET}","newPassword":"{SECRET}"}}"#)).unwrap();
        assert!(!shown(&change).contains(SECRET));
        let reset: crate::services::verification::ResetPasswordRequest =
            serde_json::from_str(&format!(r#"{{"token":"{SECRET}","newPassword":"{SECRET}"}}"#)).unwrap();
        assert!(!shown(&reset).contains(SECRET));
        let verify: crate::services::accounts::MfaVerifyRequest = serde_json::from_str(&format!(
            r#"{{"mfaToken":"{SECRET}","code":"{SECRET}","recoveryCode":"{SECRET}","deviceToken":"{SECRET}"}}"#
        ))
        .unwrap();
        assert!(!shown(&verify).contains(SECRET));
        let disable: crate::services::mfa::DisableRequest =
            serde_json::from_str(&format!(r#"{{"password":"{SECRET}","code":"{SECRET}","recoveryCode":"{SECRET}"}}"#))
                .unwrap();
        assert!(!shown(&disable).contains(SECRET));
    }

    #[test]
    fn second_factor_records_hide_their_secrets() {
        let factor = crate::domain::mfa::TotpFactor {
            user_id: "u".into(),
            status: crate::domain::mfa::FactorStatus::Enabled,
            sealed_secret: SECRET.into(),
            created_at: crate::clock::system_now(),
            enabled_at: None,
            last_step: Some(1),
            recovery_codes: vec![SECRET.into()],
            expires_at: None,
        };
        assert!(!shown(&factor).contains(SECRET), "{factor:?}");
    }

    #[test]
    fn tokens_keys_and_messages_hide_their_secrets() {
        let refresh = crate::domain::session::RefreshToken::new("u", "s");
        assert!(!shown(&refresh).contains(refresh.expose().rsplit('.').next().unwrap()));
        let message = crate::store::outbox::OutboxMessage::new(
            crate::store::outbox::MessageKind::VerifyEmail,
            "u",
            "ada@example.org",
            crate::clock::system_now(),
            [("token", SECRET.to_owned())],
        );
        assert!(!shown(&message).contains(SECRET) && !shown(&message).contains("ada@example.org"));
        let key = crate::tokens::PrivateJwk::generate().unwrap();
        assert!(!shown(&key).contains(&key.d) && !shown(&key).contains(&key.p));
    }
}

#[cfg(test)]
mod layering {
    use std::path::Path;

    fn layer_of(module: &str) -> usize {
        super::LAYERS
            .iter()
            .position(|layer| layer.contains(&module))
            .unwrap_or_else(|| panic!("module `{module}` is in no layer of LAYERS (lib.rs): place it"))
    }

    /// A source file of the crate: its path under `src/`, its top module, its text.
    struct SourceFile {
        relative: String,
        module: String,
        text: String,
    }

    /// Every source file under `src/` but `lib.rs`.
    fn source_files() -> Vec<SourceFile> {
        fn walk(dir: &Path, files: &mut Vec<SourceFile>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, files);
                    continue;
                }
                let relative = path.strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/src")).unwrap();
                let module = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
                if module != "lib" {
                    let text = std::fs::read_to_string(&path).unwrap();
                    files.push(SourceFile { relative: relative.display().to_string(), module, text });
                }
            }
        }
        let mut files = Vec::new();
        walk(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), &mut files);
        files
    }

    /// Every `crate::<module>` path of the crate: (file, its module, the module used).
    fn crate_paths() -> Vec<(String, String, String)> {
        let mut found = Vec::new();
        for SourceFile { relative, module, text } in source_files() {
            for (at, _) in text.match_indices("crate::") {
                let used: String = text[at + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                assert!(!used.is_empty(), "{relative}: write `crate::module::…`, not `crate::{{…}}`");
                found.push((relative.clone(), module.clone(), used));
            }
        }
        found
    }

    #[test]
    fn modules_use_only_lower_layers() {
        let edges = crate_paths();
        assert!(edges.len() > 50, "the scan found the crate's imports: {edges:?}");
        let wrong: Vec<String> = edges
            .iter()
            .filter(|(_, from, to)| from != to && layer_of(to) >= layer_of(from))
            .map(|(file, from, to)| format!("{file}: `{from}` uses `{to}`, which is not in a lower layer"))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// The store reports outcomes (`bool`, `SignUp`, `Option`); which answer a client
    /// gets is the services' choice. The store's own errors are failures only, and the
    /// 400 `dynamo_error` gives for a key DynamoDB finds too large: only the store sees
    /// that, and it is the request's fault on any path.
    #[test]
    fn the_store_chooses_no_answers() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store"));
        let mut chosen = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("AppError::") {
                let variant: String =
                    text[at + 10..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !["internal", "Internal", "ServiceUnavailable", "validation"].contains(&variant.as_str()) {
                    chosen.push(format!("{}: AppError::{variant}", path.display()));
                }
            }
        }
        assert!(chosen.is_empty(), "{}", chosen.join("\n"));
    }

    /// A type grows a room, not a longer list: no type of the crate has more than 40
    /// methods (the store's areas are handles of their own, `store.graph()`, …).
    #[test]
    fn no_type_has_more_than_forty_methods() {
        let methods = count_methods();
        assert!(
            methods.get("store::Store").is_some_and(|n| *n > 10),
            "the scan found the store's methods: {methods:?}"
        );
        let long: Vec<String> =
            methods.iter().filter(|(_, n)| **n > 40).map(|(ty, n)| format!("{ty}: {n} methods")).collect();
        assert!(long.is_empty(), "{}", long.join("\n"));
    }

    /// The number of `fn`s of every `impl` block, by type (types named by their top
    /// module: `store::Sessions` is not `services::Sessions`).
    fn count_methods() -> std::collections::BTreeMap<String, usize> {
        let mut methods = std::collections::BTreeMap::<String, usize>::new();
        for SourceFile { module, text, .. } in source_files() {
            let mut current: Option<String> = None;
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix("impl") {
                    // `impl<'a> Trait for Type<'a> {` counts for `Type`.
                    let rest =
                        if rest.starts_with('<') { rest.split_once("> ").map_or(rest, |(_, r)| r) } else { rest };
                    let target = rest.rsplit(" for ").next().unwrap_or(rest).trim();
                    let name = target.split(['<', ' ']).next().unwrap_or(target);
                    let name = name.rsplit("::").next().unwrap_or(name);
                    let name: String = name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    current = Some(format!("{module}::{name}"));
                } else if line == "}" {
                    current = None;
                } else if let Some(ty) = &current {
                    let item = line.trim_start_matches("    ");
                    let is_fn = line.starts_with("    ") && !line.starts_with("     ") && {
                        let item = item.trim_start_matches("pub(crate) ").trim_start_matches("pub(super) ");
                        let item = item.trim_start_matches("pub ").trim_start_matches("const ");
                        item.trim_start_matches("async ").starts_with("fn ")
                    };
                    if is_fn {
                        *methods.entry(ty.clone()).or_default() += 1;
                    }
                }
            }
        }
        methods
    }

    /// Inside each area (`domain/`, `services/`, `store/`, `http/`) the files use one
    /// another without a cycle too: the `super::x` and `crate::<area>::x` paths of each
    /// file, outside its tests.
    #[test]
    fn no_area_has_an_import_cycle() {
        // Each area's files (but `mod.rs`) by name, their code before their tests.
        let mut areas = std::collections::BTreeMap::<String, std::collections::BTreeMap<String, String>>::new();
        for SourceFile { relative, module, text } in source_files() {
            let Some(file) = relative.strip_prefix(&format!("{module}/")).and_then(|f| f.strip_suffix(".rs")) else {
                continue;
            };
            if file != "mod" {
                let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_owned();
                areas.entry(module).or_default().insert(file.to_owned(), code);
            }
        }
        assert!(areas.len() >= 4, "the scan found the areas: {:?}", areas.keys());
        for (area, files) in &areas {
            let uses = files
                .iter()
                .map(|(file, code)| {
                    let used = files.keys().filter(|other| {
                        *other != file
                            && [format!("super::{other}"), format!("crate::{area}::{other}")].iter().any(|path| {
                                code.match_indices(path.as_str()).any(|(at, _)| {
                                    !code[at + path.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                                })
                            })
                    });
                    (file.clone(), used.cloned().collect())
                })
                .collect();
            if let Some(cycle) = find_cycle(&uses) {
                panic!("{area}/ has an import cycle: {}", cycle.join(" → "));
            }
        }
    }

    /// A cycle of the graph, as its files in order (the first repeated at the end).
    fn find_cycle(uses: &std::collections::BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
        fn visit<'a>(
            node: &'a str,
            uses: &'a std::collections::BTreeMap<String, Vec<String>>,
            path: &mut Vec<&'a str>,
            done: &mut std::collections::BTreeSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|n| *n == node) {
                let mut cycle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            if !done.insert(node) {
                return None;
            }
            path.push(node);
            for next in uses.get(node).into_iter().flatten() {
                if let Some(cycle) = visit(next, uses, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            None
        }
        let mut done = std::collections::BTreeSet::new();
        uses.keys().find_map(|start| visit(start, uses, &mut Vec::new(), &mut done))
    }
}
