//! The export bucket (S3; moto's locally): documents written as a stream of parts, so
//! a writer holds one part in memory however long the document, and presigned links
//! to read them.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::error::{AppError, AppResult, Context};

/// Bytes gathered before a part is sent (S3 wants at least 5 MiB for all but the last).
const PART_BYTES: usize = 8 * 1024 * 1024;
const JSON: &str = "application/json";

#[derive(Clone)]
pub struct ExportBucket {
    client: aws_sdk_s3::Client,
    name: String,
}

/// An S3 failure: the service, unreachable or refusing, is a dependency (503).
fn s3_error(err: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::ServiceUnavailable(Box::new(err))
}

impl ExportBucket {
    /// The bucket `name` through the SDK configuration `aws`. An endpoint override
    /// (moto locally) is addressed path-style: its host takes no bucket subdomains.
    pub fn new(aws: &aws_config::SdkConfig, name: impl Into<String>) -> Self {
        let overridden = aws.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let config = aws_sdk_s3::config::Builder::from(aws).force_path_style(overridden).build();
        ExportBucket { client: aws_sdk_s3::Client::from_conf(config), name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates the bucket where it does not exist yet (the local server, on moto's S3;
    /// in AWS the template makes it). `true` when it was created.
    pub async fn create_if_missing(&self) -> AppResult<bool> {
        if self.client.head_bucket().bucket(&self.name).send().await.is_ok() {
            return Ok(false);
        }
        self.client.create_bucket().bucket(&self.name).send().await.map_err(s3_error)?;
        Ok(true)
    }

    /// A link that reads `key` for `valid` (S3 caps it at the signing credentials' own
    /// expiry: a Lambda role's are good for hours, so a link asked for later is fresh).
    pub async fn presign_get(&self, key: &str, valid: Duration) -> AppResult<String> {
        let presigning = PresigningConfig::expires_in(valid).context("a presigning expiry")?;
        let request = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .response_content_type(JSON)
            .presigned(presigning)
            .await
            .map_err(s3_error)?;
        Ok(request.uri().to_owned())
    }

    /// Deletes every object under `prefix` (an account's documents: a few at most, one
    /// a day for a week); how many.
    pub async fn delete_all_under(&self, prefix: &str) -> AppResult<u64> {
        let mut deleted = 0;
        loop {
            let listed =
                self.client.list_objects_v2().bucket(&self.name).prefix(prefix).send().await.map_err(s3_error)?;
            let keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
            if keys.is_empty() {
                return Ok(deleted);
            }
            for key in keys {
                self.client.delete_object().bucket(&self.name).key(key).send().await.map_err(s3_error)?;
                deleted += 1;
            }
        }
    }

    /// A writer of a JSON document at `key`.
    pub fn writer(&self, key: &str) -> ObjectWriter<'_> {
        ObjectWriter { bucket: self, key: key.to_owned(), buffer: Vec::new(), upload_id: None, parts: Vec::new() }
    }
}

/// Writes a document in parts: a single put when it stays under one part, a multipart
/// upload otherwise. Dropped unfinished, the upload is left for the bucket's lifecycle
/// rule (which aborts incomplete uploads) to clear.
pub struct ObjectWriter<'a> {
    bucket: &'a ExportBucket,
    key: String,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl ObjectWriter<'_> {
    pub async fn write(&mut self, bytes: &[u8]) -> AppResult<()> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PART_BYTES {
            self.send_part().await?;
        }
        Ok(())
    }

    /// The most this writer has held at once is about one part.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    async fn send_part(&mut self) -> AppResult<()> {
        let client = &self.bucket.client;
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = client
                    .create_multipart_upload()
                    .bucket(&self.bucket.name)
                    .key(&self.key)
                    .content_type(JSON)
                    .send()
                    .await
                    .map_err(s3_error)?;
                let id = created.upload_id.ok_or_else(|| AppError::internal("S3 gave no upload id"))?;
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as i32 + 1;
        let body = ByteStream::from(std::mem::take(&mut self.buffer));
        let sent = client
            .upload_part()
            .bucket(&self.bucket.name)
            .key(&self.key)
            .upload_id(upload_id)
            .part_number(number)
            .body(body)
            .send()
            .await
            .map_err(s3_error)?;
        self.parts.push(CompletedPart::builder().part_number(number).set_e_tag(sent.e_tag).build());
        Ok(())
    }

    /// Sends what is left and completes the document.
    pub async fn finish(mut self) -> AppResult<()> {
        let client = &self.bucket.client;
        let Some(upload_id) = self.upload_id.clone() else {
            client
                .put_object()
                .bucket(&self.bucket.name)
                .key(&self.key)
                .content_type(JSON)
                .body(ByteStream::from(std::mem::take(&mut self.buffer)))
                .send()
                .await
                .map_err(s3_error)?;
            return Ok(());
        };
        if !self.buffer.is_empty() {
            self.send_part().await?;
        }
        let parts = CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.parts))).build();
        client
            .complete_multipart_upload()
            .bucket(&self.bucket.name)
            .key(&self.key)
            .upload_id(upload_id)
            .multipart_upload(parts)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }
}
