//! Password rules and hashing: argon2id with OWASP's parameters, PHC strings, hashing
//! off the async executor in reused working memory, and a dummy verification for
//! unknown users. The old Node service's bcrypt hashes (imported as they are) are
//! accepted at sign-in and replaced with argon2id on the first correct one.

use std::sync::{Mutex, PoisonError};

use argon2_rust::params::Memory;
use argon2_rust::{Algorithm, Argon2, Hasher, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::Fields;
use crate::error::{AppError, AppResult, Context};

pub const MAX_LENGTH: usize = 128;
/// zxcvbn's scale: 3 means "safely unguessable", over 10^8 guesses.
const MIN_STRENGTH: u8 = 3;

/// OWASP's minimum for argon2id: m=19 MiB, t=2, p=1 (a 32-byte tag).
const MEMORY_KIB: u64 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
/// Checked when the crate compiles: invalid parameters fail the build, not a request.
const PARAMS: Params =
    Params::builder().memory(Memory::kib(MEMORY_KIB)).passes(ITERATIONS).lanes(PARALLELISM).build_or_panic();
/// The most a stored hash may ask of a verification (the table's hashes are ours or
/// the import's, but a row is no reason to spend gigabytes): 256 MiB, t=10, p=8.
const CEILING: Params = Params::builder().memory(Memory::mib(256)).passes(10).lanes(8).build_or_panic();

/// A PHC string with the parameters above whose digest matches no known password. It is
/// verified when the account does not exist, so that the answer takes as long as a wrong
/// password. A unit test keeps its parameters in step with the real ones.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXJhbmRvbXNhbHQ$4a1TLOJOedtMZrGmCoHhPbZh1GgMcEmaYmQ2dcsnj2A";

pub struct Passwords {
    min_length: usize,
    hashers: HasherPool,
    /// The cost of the bcrypt hashes the table may hold (`LEGACY_BCRYPT_COST`): while
    /// set, every failed check also does a bcrypt verification of that cost, so that a
    /// wrong password costs the same whatever the account's hash, and an unknown
    /// account costs what a known one does.
    legacy_bcrypt: Option<LegacyBcrypt>,
}

struct LegacyBcrypt {
    cost: u32,
    /// A bcrypt hash of that cost that matches nothing, made on first need.
    dummy: tokio::sync::OnceCell<String>,
}

/// Whether `stored` is a bcrypt hash as bcryptjs and the C library write them.
pub fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| stored.starts_with(prefix)) && stored.len() == 60
}

/// argon2id hashers (`argon2-rust`: the reference implementation's SIMD compression,
/// picked for the CPU at run time), each keeping its 19 MiB of working memory for the
/// next hash instead of giving it back to the allocator: glibc keeps freed blocks of
/// that size in its arenas, and a server's resident memory grew to hundreds of megabytes
/// over bursts of sign-ins. At most one hasher per core is ever made, and at most that
/// many hashes run at once (more would only share the cores); the others wait their turn.
struct HasherPool {
    turns: Semaphore,
    free: Mutex<Vec<Hasher>>,
    /// `false`: a fresh hasher (and memory) per hash, dropped after it (the old way, for
    /// the bench's comparison).
    reuse: bool,
}

impl HasherPool {
    fn new(reuse: bool) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        HasherPool { turns: Semaphore::new(cores), free: Mutex::new(Vec::new()), reuse }
    }

    /// Runs `work` on the blocking pool with a hasher, in its turn.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut Hasher) -> T + Send + 'static) -> AppResult<T> {
        let _turn = self.turns.acquire().await.context("waiting for a turn at argon2")?;
        let kept = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut hasher = kept.unwrap_or_else(|| Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS).hasher());
        let (out, hasher) = tokio::task::spawn_blocking(move || (work(&mut hasher), hasher))
            .await
            .context("argon2 on the blocking pool")?;
        if self.reuse {
            self.free.lock().unwrap_or_else(PoisonError::into_inner).push(hasher);
        }
        Ok(out)
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes { needs_rehash: bool },
}

impl Passwords {
    pub fn new(min_length: usize) -> Self {
        Self::with_memory_reuse(min_length, true)
    }

    /// `reuse: false` allocates argon2's memory afresh for every hash (what the service
    /// did before; `scripts/bench` compares the two).
    pub fn with_memory_reuse(min_length: usize, reuse: bool) -> Self {
        Passwords { min_length: min_length.max(8), hashers: HasherPool::new(reuse), legacy_bcrypt: None }
    }

    /// The same, for a table that may hold bcrypt hashes of `cost` (`None`: it holds none).
    pub fn with_legacy_bcrypt(self, cost: Option<u32>) -> Self {
        let legacy_bcrypt = cost.map(|cost| LegacyBcrypt { cost, dummy: tokio::sync::OnceCell::new() });
        Passwords { legacy_bcrypt, ..self }
    }

    /// The API's rules: length in characters (any Unicode), no composition rules, not too
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
        .context("the strength estimate on the blocking pool")
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

    /// A PHC string with a fresh 16-byte salt. Runs on the blocking pool: argon2 takes
    /// milliseconds of CPU and must not stall the executor.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.hashers
            .run(move |hasher| hasher.hash_password_with_random_salt(password.as_bytes()))
            .await?
            .map_err(|e| AppError::internal(format!("argon2: {e}")))
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// account, so both cases cost the same. A bcrypt hash matches as the old service's
    /// did and asks for a re-hash; while bcrypt hashes may be stored, a failure costs one
    /// argon2id and one bcrypt verification whatever was stored (the one not done for
    /// real is done on a dummy).
    pub async fn verify(&self, password: String, stored: Option<String>) -> AppResult<Verified> {
        // An account without a password (made by a federated sign-up) stores none: the
        // same work on the dummy hash, and no match.
        let stored = stored.filter(|hash| !hash.is_empty());
        if let Some(bcrypt_hash) = stored.as_deref().filter(|s| is_bcrypt(s)) {
            if bcrypt_verify(password.clone(), bcrypt_hash.to_owned()).await? {
                return Ok(Verified::Yes { needs_rehash: true });
            }
            self.verify_argon2(password, None).await?;
            return Ok(Verified::No);
        }
        let verified = self.verify_argon2(password.clone(), stored).await?;
        if let (Verified::No, Some(legacy)) = (verified, &self.legacy_bcrypt) {
            let cost = legacy.cost;
            let dummy = legacy
                .dummy
                .get_or_try_init(|| async move {
                    tokio::task::spawn_blocking(move || bcrypt::hash("no password is this one", cost))
                        .await
                        .context("the blocking pool")?
                        .map_err(|e| AppError::internal(format!("bcrypt: {e}")))
                })
                .await?;
            bcrypt_verify(password, dummy.clone()).await?;
        }
        Ok(verified)
    }

    async fn verify_argon2(&self, password: String, stored: Option<String>) -> AppResult<Verified> {
        let is_real = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        self.hashers
            .run(move |hasher| {
                let decoded =
                    argon2_rust::decode_phc(&phc).map_err(|e| AppError::internal(format!("stored hash: {e}")))?;
                let rehash = needs_rehash(&decoded);
                let checked = hasher.verify_encoded_bounded(&phc, password.as_bytes(), decoded.algorithm, &CEILING);
                let matches = match checked {
                    Ok(()) => true,
                    Err(argon2_rust::Error::VerifyMismatch) => false,
                    Err(e) => return Err(AppError::internal(format!("stored hash: {e}"))),
                };
                Ok(match (is_real && matches, rehash) {
                    (false, _) => Verified::No,
                    (true, needs_rehash) => Verified::Yes { needs_rehash },
                })
            })
            .await?
    }
}

/// A bcrypt verification on the blocking pool (tens to hundreds of milliseconds). Like
/// bcryptjs, it reads the first 72 bytes of the password.
async fn bcrypt_verify(password: String, hash: String) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
        .await
        .context("the blocking pool")?
        .map_err(|e| AppError::internal(format!("bcrypt: {e}")))
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
fn needs_rehash(stored: &argon2_rust::Decoded) -> bool {
    stored.algorithm != Algorithm::Argon2id
        || stored.version != Version::V0x13
        || stored.params.memory_kib() != PARAMS.memory_kib()
        || stored.params.passes() != PARAMS.passes()
        || stored.params.lanes() != PARAMS.lanes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwords() -> Passwords {
        Passwords::new(12)
    }

    #[test]
    fn dummy_hash_uses_the_current_parameters() {
        assert!(!needs_rehash(&argon2_rust::decode_phc(DUMMY_HASH).unwrap()));
    }

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<char> = text.chars().filter(char::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|pair| u8::from_str_radix(&pair.iter().collect::<String>(), 16).unwrap()).collect()
    }

    /// RFC 9106's test vectors (§5: 32 KiB, t=3, p=4, a secret and associated data), on
    /// the compression backend this CPU picked.
    #[test]
    fn rfc_9106_test_vectors() {
        let params = Params::builder().memory(Memory::kib(32)).passes(3).lanes(4).build().unwrap();
        for (algorithm, tag) in [
            (Algorithm::Argon2d, "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb"),
            (Algorithm::Argon2i, "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"),
            (Algorithm::Argon2id, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"),
        ] {
            let mut out = [0u8; 32];
            let mut hasher = Argon2::new(algorithm, Version::V0x13, params).hasher();
            hasher.hash_into_with_ad(&[1; 32], &[2; 16], &[3; 8], &[4; 12], &mut out).unwrap();
            assert_eq!(out.to_vec(), hex(tag), "{algorithm:?} on {:?}", argon2_rust::detected_backend());
        }
    }

    /// The `argon2` crate (RustCrypto's) made every hash stored before this one: its
    /// hashes verify here and ours there, for passwords of every shape, at today's
    /// parameters and others (those ask for a re-hash), on memory that earlier hashes
    /// left dirty.
    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::rand_core::OsRng;
        use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
        let p = passwords();
        let shapes = [
            "lantern-orbit-velvet-93".to_owned(),
            "短いけれど十分に長い日本語のパスワードです".into(),
            "x".repeat(MAX_LENGTH),
            " spaces\tand a \u{1F600} ".into(),
            String::new(),
        ];
        let stock = argon2::Argon2::default();
        for password in &shapes {
            let ours = p.hash(password.clone()).await.unwrap();
            let parsed = PasswordHash::new(&ours).unwrap();
            assert!(stock.verify_password(password.as_bytes(), &parsed).is_ok(), "{ours}");
            assert!(stock.verify_password(format!("{password}!").as_bytes(), &parsed).is_err());
        }
        for (m, t, lanes) in [(19456, 2, 1), (2 * 19456, 1, 1), (8192, 1, 1), (19456, 2, 2)] {
            let params = argon2::Params::new(m, t, lanes, None).unwrap();
            let stock = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            for password in &shapes {
                let salt = SaltString::generate(&mut OsRng);
                let theirs = stock.hash_password(password.as_bytes(), &salt).unwrap().to_string();
                let verified = p.verify(password.clone(), Some(theirs.clone())).await.unwrap();
                assert_eq!(verified, Verified::Yes { needs_rehash: (m, t, lanes) != (19456, 2, 1) }, "{theirs}");
                assert_eq!(p.verify(format!("{password}!"), Some(theirs)).await.unwrap(), Verified::No);
            }
        }
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

    /// crypt_blowfish's test vectors (which bcryptjs and the C library pass), under each
    /// prefix the old service may have written.
    #[tokio::test]
    async fn bcrypt_hashes_match_as_the_old_service_made_them_and_ask_for_a_rehash() {
        let p = passwords().with_legacy_bcrypt(Some(5));
        let digest = "CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        for prefix in ["$2a$05$", "$2b$05$", "$2y$05$"] {
            let stored = format!("{prefix}{digest}");
            assert!(is_bcrypt(&stored));
            assert_eq!(
                p.verify("U*U".into(), Some(stored.clone())).await.unwrap(),
                Verified::Yes { needs_rehash: true }
            );
            assert_eq!(p.verify("U*V".into(), Some(stored)).await.unwrap(), Verified::No);
        }
        let empty = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy";
        assert_eq!(p.verify(String::new(), Some(empty.into())).await.unwrap(), Verified::Yes { needs_rehash: true });
        // bcrypt reads 72 bytes, as bcryptjs did: the old service's users typed no more.
        let long = "a".repeat(72);
        let hash = bcrypt::hash(&long, 4).unwrap();
        assert_eq!(p.verify(format!("{long}tail"), Some(hash)).await.unwrap(), Verified::Yes { needs_rehash: true });
        assert!(!is_bcrypt("$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
        assert!(!is_bcrypt(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXJhbmRvbXNhbHQ$4a1TLOJOedtMZrGmCoHhPbZh1GgMcEmaYmQ2dcsnj2A"
        ));
        // Unknown accounts and wrong argon2 passwords still fail (with the dummy bcrypt done).
        assert_eq!(p.verify("U*U".into(), None).await.unwrap(), Verified::No);
        let argon2 = p.hash("lantern-orbit-velvet-93".into()).await.unwrap();
        assert_eq!(p.verify("wrong".into(), Some(argon2)).await.unwrap(), Verified::No);
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
