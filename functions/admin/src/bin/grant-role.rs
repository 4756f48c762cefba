//! `grant-role <username or email> <user|moderator|admin>`: gives an account a role,
//! with its entry in the audit log (actor `operator`). This is how the first admin is
//! made; it reads `TABLE_NAME` and AWS's usual settings, so it works against DynamoDB
//! Local (`AWS_ENDPOINT_URL_DYNAMODB`) and against AWS with the operator's credentials.
//! Staff reach the admin routes only through a recent second factor: it says so.

use std::process::ExitCode;

use shared::services::moderation::{grant, parse_role, Actor};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [account, role] = args.as_slice() else {
        eprintln!("usage: grant-role <username or email> <user|moderator|admin>");
        return ExitCode::from(2);
    };
    match run(account, role).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("grant-role: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(account: &str, role: &str) -> Result<String, String> {
    let role = parse_role(role).map_err(|e| format!("the role {e}"))?;
    let config = shared::config::Config::from_env().map_err(|e| e.to_string())?;
    let store = shared::store::Store::from_config(&config).await;
    let found =
        store.users().user_id_by_identifier(account).await.map_err(|e| format!("reading the table failed: {e}"))?;
    let user_id = found.ok_or_else(|| format!("no account {account:?} in table {}", store.table()))?;
    let user = store
        .users()
        .user_by_id(&user_id)
        .await
        .map_err(|e| format!("reading the table failed: {e}"))?
        .ok_or_else(|| format!("the account {account:?} is deleted"))?;
    let identity = operator_identity(&config).await?;
    grant(&store, Actor::Operator(&identity), &user, role).await.map_err(|e| format!("the change failed: {e}"))?;
    let granted = format!("{} ({}) is now {} (audited as operator {identity})", user.username, user.id, role.as_str());
    Ok(match (role.is_staff(), user.mfa_enabled) {
        (false, _) => granted,
        (true, false) => format!(
            "{granted}\nThe admin routes answer 403 MFA_REQUIRED until {} turns on a second factor \
             (POST /api/auth/mfa/totp/enroll, then /api/auth/mfa/totp/confirm) and signs in with it.",
            user.username
        ),
        (true, true) => format!(
            "{granted}\nThe admin routes need a session that passed the second factor within the last 12 hours."
        ),
    })
}

/// Who runs this, for the audit entry: against AWS, the principal of the credentials
/// (STS `GetCallerIdentity`; no identity, no change); against a local table
/// (`AWS_ENDPOINT_URL_DYNAMODB` set, as `scripts/grant-role` does), the machine's user.
async fn operator_identity(config: &shared::config::Config) -> Result<String, String> {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some() {
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
        return Ok(format!("local:{user}"));
    }
    let aws = shared::aws::sdk_config(config.tls_native_roots).await;
    let caller = aws_sdk_sts::Client::new(&aws)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| format!("could not learn who runs this (STS GetCallerIdentity): {e}"))?;
    caller.arn().map(str::to_owned).ok_or_else(|| "STS named no identity".to_owned())
}
