//! Prints a private JWK set for the signing-key secret. With a file argument, the new
//! key is put first (it signs from then on) and the file's keys follow (they still
//! verify): that is a key rotation. With `--public FILE`, prints the public half of a
//! private set: the content of the public-key secret (docs/operations.md, Deploy).
//!
//!   cargo run -p local-server --bin jwks-keygen > jwks.json
//!   cargo run -p local-server --bin jwks-keygen -- jwks.json > rotated.json
//!   cargo run -p local-server --bin jwks-keygen -- --public jwks.json > public.json

use shared::error::BoxError;
use shared::tokens::{PrivateJwk, PrivateJwkSet};

fn read(path: &str) -> Result<PrivateJwkSet, BoxError> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice() {
        if flag == "--public" {
            println!("{}", serde_json::to_string(&read(path)?.public())?);
            return Ok(());
        }
    }
    let mut keys = vec![PrivateJwk::generate()?];
    if let Some(path) = args.first() {
        keys.extend(read(path)?.keys);
    }
    println!("{}", serde_json::to_string(&PrivateJwkSet { keys })?);
    Ok(())
}
