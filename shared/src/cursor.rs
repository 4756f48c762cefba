//! Opaque, tamper-evident page cursors: the store's last evaluated key and the list it
//! belongs to, signed with HMAC-SHA256. A forged, altered or foreign cursor is 400
//! `INVALID_CURSOR`, never a query the client shaped.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};
use crate::store::Item;

type HmacSha256 = Hmac<Sha256>;

pub struct Cursors {
    key: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The list the cursor pages through (e.g. `FOLLOWERS#<id>`).
    l: String,
    /// The last evaluated key; every key attribute of the table is a string.
    k: BTreeMap<String, String>,
}

impl Cursors {
    /// The MAC key is derived from a secret the service already holds.
    pub fn new(secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"user-service page cursor v1\0");
        hasher.update(secret);
        Cursors { key: hasher.finalize().into() }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    pub fn encode(&self, list: &str, last_key: &Item) -> String {
        let k = last_key.iter().filter_map(|(name, v)| v.as_s().ok().map(|v| (name.clone(), v.clone()))).collect();
        let json = serde_json::to_vec(&Payload { l: list.to_owned(), k }).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&json);
        format!("{}.{}", B64.encode(&json), B64.encode(mac.finalize().into_bytes()))
    }

    pub fn decode(&self, list: &str, cursor: &str) -> AppResult<Item> {
        let (body, tag) = cursor.split_once('.').ok_or(AppError::InvalidCursor)?;
        let json = B64.decode(body).map_err(|_| AppError::InvalidCursor)?;
        let tag = B64.decode(tag).map_err(|_| AppError::InvalidCursor)?;
        let mut mac = self.mac();
        mac.update(&json);
        mac.verify_slice(&tag).map_err(|_| AppError::InvalidCursor)?;
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| AppError::InvalidCursor)?;
        if payload.l != list {
            return Err(AppError::InvalidCursor);
        }
        Ok(payload.k.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Item {
        [("PK", "USER#a"), ("SK", "FOLLOWER#b"), ("GSI1PK", "FOLLOWERS#a"), ("GSI1SK", "2026#b")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
            .collect()
    }

    #[test]
    fn round_trip_and_tamper_evidence() {
        let cursors = Cursors::new(b"secret");
        let cursor = cursors.encode("FOLLOWERS#a", &key());
        assert_eq!(cursors.decode("FOLLOWERS#a", &cursor).unwrap(), key());
        assert!(matches!(cursors.decode("FOLLOWING#a", &cursor), Err(AppError::InvalidCursor)));
        assert!(matches!(Cursors::new(b"other").decode("FOLLOWERS#a", &cursor), Err(AppError::InvalidCursor)));
        let (body, tag) = cursor.split_once('.').unwrap();
        let mut json = B64.decode(body).unwrap();
        let at = json.iter().position(|b| *b == b'b').unwrap();
        json[at] = b'c';
        let altered = format!("{}.{tag}", B64.encode(json));
        for bad in [altered.as_str(), "", "garbage", "a.b", "..", &cursor[1..]] {
            assert!(matches!(cursors.decode("FOLLOWERS#a", bad), Err(AppError::InvalidCursor)), "{bad}");
        }
    }
}
