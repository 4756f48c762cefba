//! Prints a private JWK set for the signing-key secret. With a file argument, the new
//! key is put first (it signs from then on) and the file's keys follow (they still
//! verify): that is a key rotation.
//!
//!   cargo run -p local-server --bin jwks-keygen > jwks.json
//!   cargo run -p local-server --bin jwks-keygen -- jwks.json > rotated.json

use shared::error::BoxError;
use shared::tokens::{PrivateJwk, PrivateJwkSet};

fn main() -> Result<(), BoxError> {
    let mut keys = vec![PrivateJwk::generate()?];
    if let Some(path) = std::env::args().nth(1) {
        let existing: PrivateJwkSet = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        keys.extend(existing.keys);
    }
    println!("{}", serde_json::to_string(&PrivateJwkSet { keys })?);
    Ok(())
}
