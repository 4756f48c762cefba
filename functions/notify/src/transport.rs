//! Where composed messages go: Amazon SES v2 (in AWS, and locally against moto), or
//! the local server's console.

use std::time::Duration;

use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use shared::store::outbox::OutboxMessage;

use crate::compose::Email;

/// Why a send did not happen. Neither carries an address or a token: only the
/// service's error code or a fixed phrase, fit for logs and for the outbox item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// This message will never be accepted (a malformed or refused recipient, say).
    Permanent(String),
    /// It may be accepted later (throttling, an unreachable service, a paused account).
    Transient(String),
}

pub enum Transport {
    Ses {
        client: aws_sdk_sesv2::Client,
        from: String,
    },
    /// Prints each message (kind, recipient, subject, link, token) to standard output:
    /// the local server's stand-in for a mailbox. Never used in AWS, where standard
    /// output is a log.
    Console,
}

/// The SES service's own refusals of one message; any other failure may pass later.
const PERMANENT_SES_ERRORS: &[&str] =
    &["MessageRejected", "BadRequestException", "InvalidParameterValue", "NotFoundException"];

impl Transport {
    /// SES with the default endpoint (or `AWS_ENDPOINT_URL_SESV2`), bounded so that a
    /// send never outlasts a delivery's lease.
    pub fn ses(aws: &aws_config::SdkConfig, from: &str) -> Self {
        let timeouts = aws_sdk_sesv2::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(10))
            .build();
        let config = aws_sdk_sesv2::config::Builder::from(aws).timeout_config(timeouts).build();
        Transport::Ses { client: aws_sdk_sesv2::Client::from_conf(config), from: from.to_owned() }
    }

    /// Sends one message; `Ok` holds the provider's message id, if any.
    pub async fn send(&self, message: &OutboxMessage, email: &Email) -> Result<Option<String>, SendError> {
        match self {
            Transport::Ses { client, from } => send_ses(client, from, message, email).await,
            Transport::Console => {
                print_to_console(message, email);
                Ok(None)
            }
        }
    }
}

async fn send_ses(
    client: &aws_sdk_sesv2::Client,
    from: &str,
    message: &OutboxMessage,
    email: &Email,
) -> Result<Option<String>, SendError> {
    let utf8 = |text: &str| Content::builder().data(text).charset("UTF-8").build();
    let (subject, text, html) = match (utf8(&email.subject), utf8(&email.text), utf8(&email.html)) {
        (Ok(subject), Ok(text), Ok(html)) => (subject, text, html),
        _ => return Err(SendError::Permanent("the message could not be built".into())),
    };
    let content = Message::builder().subject(subject).body(Body::builder().text(text).html(html).build()).build();
    let sent = client
        .send_email()
        .from_email_address(from)
        .destination(Destination::builder().to_addresses(&message.to).build())
        .content(EmailContent::builder().simple(content).build())
        .send()
        .await;
    match sent {
        Ok(out) => Ok(out.message_id),
        Err(SdkError::ServiceError(failure)) => {
            let code = failure.err().code().unwrap_or("unknown SES error").to_owned();
            if PERMANENT_SES_ERRORS.contains(&code.as_str()) {
                Err(SendError::Permanent(format!("SES refused the message: {code}")))
            } else {
                Err(SendError::Transient(format!("SES failed: {code}")))
            }
        }
        Err(SdkError::TimeoutError(_)) => Err(SendError::Transient("SES did not answer in time".into())),
        Err(_) => Err(SendError::Transient("SES could not be reached".into())),
    }
}

fn print_to_console(message: &OutboxMessage, email: &Email) {
    let mut lines = vec![
        format!("\n── outbox: {} to {} ──", message.kind.as_str(), message.to),
        format!("   subject: {}", email.subject),
    ];
    if let Some(link) = &email.link {
        lines.push(format!("   link: {link}"));
    }
    for (name, value) in &message.data {
        lines.push(format!("   {name}: {value}"));
    }
    // One write, so that messages delivered at once never interleave.
    println!("{}", lines.join("\n"));
}
