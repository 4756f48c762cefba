//! The common crate of the user service: configuration, domain types, the single-table
//! store, passwords, tokens, the HTTP error envelope and logging.

pub mod aws;
pub mod bucket;
pub mod clock;
pub mod config;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod http;
pub mod logging;
pub mod metrics;
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

pub use error::{AppError, AppResult};
pub use state::AppState;

/// The crate's modules in layers, lowest first. A module uses only modules of lower
/// layers (the `layering` test reads every `crate::` path to hold it), so the crate has
/// no import cycle: domain types know nothing of storage, the store nothing of
/// services, and nothing below `http` knows of HTTP requests.
pub const LAYERS: &[&[&str]] = &[
    &["error", "clock"],
    &["logging", "metrics", "aws", "bucket", "startup", "schema", "rate_limit"],
    &["domain"],
    &["config", "password"],
    &["tokens"],
    &["store"],
    &["cursor", "vault"],
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

    /// Every `crate::<module>` path in the files under `dir`: (file, its module, the module used).
    fn crate_paths(dir: &Path, found: &mut Vec<(String, String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                crate_paths(&path, found);
                continue;
            }
            let relative = path.strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/src")).unwrap();
            let module = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("crate::") {
                let used: String = text[at + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                assert!(!used.is_empty(), "{}: write `crate::module::…`, not `crate::{{…}}`", relative.display());
                found.push((relative.display().to_string(), module.clone(), used));
            }
        }
    }

    #[test]
    fn modules_use_only_lower_layers() {
        let mut edges = Vec::new();
        crate_paths(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), &mut edges);
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
        let mut methods = std::collections::BTreeMap::<String, usize>::new();
        count_methods(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), &mut methods);
        assert!(
            methods.get("store::Store").is_some_and(|n| *n > 10),
            "the scan found the store's methods: {methods:?}"
        );
        let long: Vec<String> =
            methods.iter().filter(|(_, n)| **n > 40).map(|(ty, n)| format!("{ty}: {n} methods")).collect();
        assert!(long.is_empty(), "{}", long.join("\n"));
    }

    /// Adds the `fn`s of every `impl` block under `dir` to its type's count (types named
    /// by their top module: `store::Sessions` is not `services::Sessions`).
    fn count_methods(dir: &Path, methods: &mut std::collections::BTreeMap<String, usize>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                count_methods(&path, methods);
                continue;
            }
            let relative = path.strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/src")).unwrap();
            let module = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
            let mut current: Option<String> = None;
            for line in std::fs::read_to_string(&path).unwrap().lines() {
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
    }

    /// Inside each area (`domain/`, `services/`, `store/`, `http/`) the files use one
    /// another without a cycle too: the `super::x` and `crate::<area>::x` paths of each
    /// file, outside its tests.
    #[test]
    fn no_area_has_an_import_cycle() {
        let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
        let mut areas = 0;
        for area in std::fs::read_dir(src).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
            let name = area.file_name().unwrap().to_string_lossy().into_owned();
            let files: Vec<String> = std::fs::read_dir(&area)
                .unwrap()
                .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
                .filter(|f| f != "mod")
                .collect();
            let mut uses = std::collections::BTreeMap::<String, Vec<String>>::new();
            for file in &files {
                let text = std::fs::read_to_string(area.join(format!("{file}.rs"))).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let used = files.iter().filter(|other| {
                    *other != file
                        && [format!("super::{other}"), format!("crate::{name}::{other}")].iter().any(|path| {
                            code.match_indices(path.as_str()).any(|(at, _)| {
                                !code[at + path.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                            })
                        })
                });
                uses.insert(file.clone(), used.cloned().collect());
            }
            if let Some(cycle) = find_cycle(&uses) {
                panic!("{name}/ has an import cycle: {}", cycle.join(" → "));
            }
            areas += 1;
        }
        assert!(areas >= 4, "the scan found the areas");
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
