//! Password rules and hashing: argon2id with OWASP's parameters, PHC strings, hashing
//! off the async executor, and a dummy verification for unknown users.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::Fields;
use crate::error::{AppError, AppResult};

pub const MAX_LENGTH: usize = 128;
/// zxcvbn's scale: 3 means "safely unguessable", over 10^8 guesses.
const MIN_STRENGTH: u8 = 3;

/// OWASP's minimum for argon2id: m=19 MiB, t=2, p=1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// A PHC string with the parameters above whose digest matches no known password. It is
/// verified when the account does not exist, so that the answer takes as long as a wrong
/// password. A unit test keeps its parameters in step with the real ones.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXJhbmRvbXNhbHQ$4a1TLOJOedtMZrGmCoHhPbZh1GgMcEmaYmQ2dcsnj2A";

pub struct Passwords {
    min_length: usize,
    argon2: Argon2<'static>,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes { needs_rehash: bool },
}

impl Passwords {
    pub fn new(min_length: usize) -> Self {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("OWASP argon2 parameters are valid");
        Passwords { min_length: min_length.max(8), argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params) }
    }

    /// API.md's rules: length in characters (any Unicode), no composition rules, not too
    /// guessable, not too close to the user's own identifiers (`related`). The inner
    /// `Err` says what is wrong with the password. The strength estimate runs on the
    /// blocking pool: it takes milliseconds for long passwords (`scripts/bench`).
    pub async fn check_policy(&self, password: &str, related: &[&str]) -> AppResult<Result<(), String>> {
        if let Err(wrong) = self.check_shape(password, related) {
            return Ok(Err(wrong));
        }
        let (password, related) = (password.to_owned(), related.iter().map(|r| r.to_string()).collect::<Vec<_>>());
        tokio::task::spawn_blocking(move || {
            let related: Vec<&str> = related.iter().map(String::as_str).collect();
            check_strength(&password, &related)
        })
        .await
        .map_err(AppError::internal)
    }

    /// A new password field: required, and within the rules.
    pub async fn new_password_field(
        &self,
        fields: &mut Fields,
        field: &str,
        value: Option<&str>,
        related: &[&str],
    ) -> AppResult<Option<String>> {
        let Some(password) = value else {
            fields.add(field, "is required");
            return Ok(None);
        };
        let verdict = self.check_policy(password, related).await?;
        Ok(fields.check(field, verdict.map(|()| password.to_owned())))
    }

    /// The rules that need no estimate: length, and no names of the account in it.
    fn check_shape(&self, password: &str, related: &[&str]) -> Result<(), String> {
        let len = password.chars().count();
        if len < self.min_length {
            return Err(format!("must be at least {} characters", self.min_length));
        }
        if len > MAX_LENGTH {
            return Err(format!("must be at most {MAX_LENGTH} characters"));
        }
        let lower = password.to_lowercase();
        let close = related
            .iter()
            .map(|r| r.to_lowercase())
            .any(|r| r.chars().count() >= 3 && (lower.contains(&r) || r.contains(&lower)));
        if close {
            return Err("must not contain your username or email address".into());
        }
        Ok(())
    }

    /// A PHC string with a fresh salt. Runs on the blocking pool: argon2 takes tens of
    /// milliseconds of CPU and must not stall the executor.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        let argon2 = self.argon2.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2.hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::internal(format!("argon2: {e}")))
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// account, so both cases cost the same.
    pub async fn verify(&self, password: String, stored: Option<String>) -> AppResult<Verified> {
        let argon2 = self.argon2.clone();
        let is_real = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        tokio::task::spawn_blocking(move || {
            let hash = PasswordHash::new(&phc).map_err(|e| AppError::internal(format!("stored hash: {e}")))?;
            let matches = argon2.verify_password(password.as_bytes(), &hash).is_ok();
            Ok(match (is_real && matches, needs_rehash(&argon2, &hash)) {
                (false, _) => Verified::No,
                (true, needs_rehash) => Verified::Yes { needs_rehash },
            })
        })
        .await
        .map_err(AppError::internal)?
    }
}

/// zxcvbn's estimate: at least "safely unguessable".
fn check_strength(password: &str, related: &[&str]) -> Result<(), String> {
    let strength = zxcvbn::zxcvbn(password, related);
    if u8::from(strength.score()) < MIN_STRENGTH {
        let mut message = String::from("is too easy to guess");
        if let Some(warning) = strength.feedback().and_then(|f| f.warning()) {
            message.push_str(&format!(": {warning}"));
        }
        return Err(message);
    }
    Ok(())
}

/// True when the stored hash was made with other parameters than today's.
fn needs_rehash(argon2: &Argon2<'_>, hash: &PasswordHash<'_>) -> bool {
    let current = argon2.params();
    let stored = Params::try_from(hash).ok();
    hash.algorithm != Algorithm::Argon2id.ident()
        || stored.is_none_or(|p| {
            p.m_cost() != current.m_cost() || p.t_cost() != current.t_cost() || p.p_cost() != current.p_cost()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwords() -> Passwords {
        Passwords::new(12)
    }

    #[test]
    fn dummy_hash_uses_the_current_parameters() {
        let p = passwords();
        let hash = PasswordHash::new(DUMMY_HASH).unwrap();
        assert!(!needs_rehash(&p.argon2, &hash));
    }

    #[tokio::test]
    async fn hash_and_verify_round_trip() {
        let p = passwords();
        let hash = p.hash("lantern-orbit-velvet-93".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            p.verify("lantern-orbit-velvet-93".into(), Some(hash.clone())).await.unwrap(),
            Verified::Yes { needs_rehash: false }
        );
        assert_eq!(p.verify("lantern-orbit-velvet-94".into(), Some(hash)).await.unwrap(), Verified::No);
        assert_eq!(p.verify("anything".into(), None).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn weaker_stored_parameters_ask_for_a_rehash() {
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).unwrap());
        let salt = SaltString::generate(&mut OsRng);
        let hash = weak.hash_password(b"lantern-orbit-velvet-93", &salt).unwrap().to_string();
        assert_eq!(
            passwords().verify("lantern-orbit-velvet-93".into(), Some(hash)).await.unwrap(),
            Verified::Yes { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn policy() {
        let p = passwords();
        let related = ["river_song", "river@example.org", "river"];
        let check = |password: String| {
            let p = &p;
            async move { p.check_policy(&password, &related).await.unwrap() }
        };
        assert!(check("lantern-orbit-velvet-93".into()).await.is_ok());
        assert!(check("短いけれど十分に長い日本語のパスワードです".into()).await.is_ok());
        assert!(check("short".into()).await.unwrap_err().contains("at least 12"));
        assert!(check("x".repeat(129)).await.unwrap_err().contains("at most 128"));
        assert!(check("password1234".into()).await.unwrap_err().contains("guess"));
        assert!(check("aaaaaaaaaaaaaaaa".into()).await.unwrap_err().contains("guess"));
        assert!(check("River_Song_2024!".into()).await.unwrap_err().contains("username"));
        assert!(check("xriver@example.orgx".into()).await.unwrap_err().contains("username"));
    }
}
