//! Cursor pagination as docs/API.md describes it.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult, FieldError};

pub const DEFAULT_LIMIT: i32 = 20;
pub const MAX_LIMIT: i32 = 100;

/// `?limit=&cursor=` as sent.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100; 20 when absent.
    #[param(value_type = Option<i32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i32,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn validate(self) -> AppResult<PageRequest> {
        let limit = match self.limit.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<i32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(AppError::Validation(vec![FieldError::new(
                        "limit",
                        "must be a whole number from 1 to 100",
                    )]))
                }
            },
        };
        Ok(PageRequest { limit, cursor: self.cursor.filter(|c| !c.is_empty()) })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let page = |limit: Option<&str>| PageQuery { limit: limit.map(str::to_owned), cursor: None }.validate();
        assert_eq!(page(None).unwrap().limit, 20);
        assert_eq!(page(Some("100")).unwrap().limit, 100);
        assert_eq!(page(Some("1")).unwrap().limit, 1);
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            assert!(page(Some(bad)).is_err(), "{bad}");
        }
    }
}
