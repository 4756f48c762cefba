//! The scheduled `cleanup` function. Deleting expired sessions by the expiry index is
//! the subject of the verification/cleanup issue; until it lands, an invocation fails
//! loudly instead of pretending to have cleaned anything.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

pub async fn handle(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Err("session cleanup is not implemented yet".into())
}
