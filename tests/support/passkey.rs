//! A software authenticator for the passkey tests: it answers the service's options as
//! a browser and a platform authenticator would, with real CBOR (attestation `none`,
//! COSE keys) and real signatures (ES256 on P-256, or RS256), in the WebAuthn Level 3
//! JSON forms (`toJSON()`). Knobs let a test break one thing at a time: the origin, the
//! RP id, user verification, the counter, the challenge.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The origin and RP id of the local configuration.
pub const ORIGIN: &str = "http://localhost:3000";
pub const RP_ID: &str = "localhost";

enum Key {
    Es256(EcdsaKeyPair),
    Rs256(aws_lc_rs::rsa::KeyPair),
}

pub struct SoftPasskey {
    key: Key,
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    /// The signature counter; 0 means "keeps none" (as synced passkeys do).
    pub counter: u32,
    /// Where the "browser" says the page is.
    pub origin: String,
    /// The RP id the authenticator hashes into its data.
    pub rp_id: String,
    /// Whether the authenticator says it verified the user (the UV flag).
    pub user_verified: bool,
}

impl SoftPasskey {
    /// A new ES256 key that keeps a counter (starting at 1 on first use).
    pub fn es256() -> Self {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        Self::with(Key::Es256(key), 1)
    }

    /// A new RS256 key (2048 bits) without a counter.
    pub fn rs256() -> Self {
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        Self::with(Key::Rs256(key), 0)
    }

    fn with(key: Key, counter: u32) -> Self {
        SoftPasskey {
            key,
            credential_id: rand::random::<[u8; 16]>().to_vec(),
            user_handle: Vec::new(),
            counter,
            origin: ORIGIN.to_owned(),
            rp_id: RP_ID.to_owned(),
            user_verified: true,
        }
    }

    /// `navigator.credentials.create()` for `publicKey` (creation options JSON): the
    /// `RegistrationResponseJSON`. Keeps the user handle, as a discoverable credential does.
    pub fn create(&mut self, public_key: &Value) -> Value {
        let alg = match self.key {
            Key::Es256(_) => -7,
            Key::Rs256(_) => -257,
        };
        let offered = public_key["pubKeyCredParams"].as_array().unwrap();
        assert!(offered.iter().any(|p| p["alg"] == alg), "the options offer alg {alg}: {offered:?}");
        self.user_handle = B64.decode(public_key["user"]["id"].as_str().unwrap()).unwrap();
        let client_data = self.client_data("webauthn.create", public_key["challenge"].as_str().unwrap());
        let mut auth_data = self.authenticator_data(0x40);
        auth_data.extend([0u8; 16]); // AAGUID: none
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let attestation = cbor_map(&[
            (Cbor::Text("fmt"), Cbor::Text("none")),
            (Cbor::Text("attStmt"), Cbor::Map(vec![])),
            (Cbor::Text("authData"), Cbor::Bytes(auth_data.clone())),
        ]);
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "attestationObject": B64.encode(attestation),
                "authenticatorData": B64.encode(&auth_data),
                "transports": ["internal", "hybrid"],
                "publicKeyAlgorithm": alg,
            },
            "clientExtensionResults": { "credProps": { "rk": true } },
        })
    }

    /// `navigator.credentials.get()` for `publicKey` (request options JSON): the
    /// `AuthenticationResponseJSON`, the counter moved on (when it keeps one).
    pub fn get(&mut self, public_key: &Value) -> Value {
        self.answer(public_key["challenge"].as_str().unwrap())
    }

    /// An answer to an arbitrary challenge (base64url), as `get` gives it.
    pub fn answer(&mut self, challenge: &str) -> Value {
        if self.counter > 0 {
            self.counter += 1;
        }
        let client_data = self.client_data("webauthn.get", challenge);
        let auth_data = self.authenticator_data(0);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "authenticatorData": B64.encode(&auth_data),
                "signature": B64.encode(self.sign(&signed)),
                "userHandle": B64.encode(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    /// rpIdHash, flags (UP, UV when verified, BE+BS: a synced passkey, and `extra`),
    /// signCount.
    fn authenticator_data(&self, extra_flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        let uv = if self.user_verified { 0x04 } else { 0 };
        data.push(0x01 | uv | 0x08 | 0x10 | extra_flags);
        data.extend(self.counter.to_be_bytes());
        data
    }

    fn cose_key(&self) -> Vec<u8> {
        match &self.key {
            Key::Es256(key) => {
                let point = key.public_key().as_ref();
                let (x, y) = (point[1..33].to_vec(), point[33..65].to_vec());
                cbor_map(&[
                    (Cbor::Int(1), Cbor::Int(2)),
                    (Cbor::Int(3), Cbor::Int(-7)),
                    (Cbor::Int(-1), Cbor::Int(1)),
                    (Cbor::Int(-2), Cbor::Bytes(x)),
                    (Cbor::Int(-3), Cbor::Bytes(y)),
                ])
            }
            Key::Rs256(key) => {
                let public = key.public_key();
                let n = public.modulus().big_endian_without_leading_zero().to_vec();
                let e = public.exponent().big_endian_without_leading_zero().to_vec();
                cbor_map(&[
                    (Cbor::Int(1), Cbor::Int(3)),
                    (Cbor::Int(3), Cbor::Int(-257)),
                    (Cbor::Int(-1), Cbor::Bytes(n)),
                    (Cbor::Int(-2), Cbor::Bytes(e)),
                ])
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Es256(key) => key.sign(&rng, message).unwrap().as_ref().to_vec(),
            Key::Rs256(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature).unwrap();
                signature
            }
        }
    }
}

/// The few CBOR items WebAuthn's structures need (RFC 8949), encoded canonically.
enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(&'static str),
    Map(Vec<(Cbor, Cbor)>),
}

fn cbor_map(entries: &[(Cbor, Cbor)]) -> Vec<u8> {
    let mut out = Vec::new();
    head(&mut out, 5, entries.len() as u64);
    for (k, v) in entries {
        encode(&mut out, k);
        encode(&mut out, v);
    }
    out
}

fn encode(out: &mut Vec<u8>, item: &Cbor) {
    match item {
        Cbor::Int(n) if *n >= 0 => head(out, 0, *n as u64),
        Cbor::Int(n) => head(out, 1, (-1 - n) as u64),
        Cbor::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend(b);
        }
        Cbor::Text(t) => {
            head(out, 3, t.len() as u64);
            out.extend(t.as_bytes());
        }
        Cbor::Map(entries) => {
            head(out, 5, entries.len() as u64);
            for (k, v) in entries {
                encode(out, k);
                encode(out, v);
            }
        }
    }
}

/// A major type and its argument in the shortest form.
fn head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend([major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend((value as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend(value.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8949 Appendix A examples.
    #[test]
    fn cbor_heads_match_the_rfc_examples() {
        let enc = |item: Cbor| {
            let mut out = Vec::new();
            encode(&mut out, &item);
            out
        };
        assert_eq!(enc(Cbor::Int(10)), [0x0a]);
        assert_eq!(enc(Cbor::Int(100)), [0x18, 0x64]);
        assert_eq!(enc(Cbor::Int(1000)), [0x19, 0x03, 0xe8]);
        assert_eq!(enc(Cbor::Int(-1)), [0x20]);
        assert_eq!(enc(Cbor::Int(-1000)), [0x39, 0x03, 0xe7]);
        assert_eq!(enc(Cbor::Text("a")), [0x61, 0x61]);
        assert_eq!(enc(Cbor::Bytes(vec![1, 2, 3, 4])), [0x44, 1, 2, 3, 4]);
        assert_eq!(enc(Cbor::Map(vec![])), [0xa0]);
    }
}
