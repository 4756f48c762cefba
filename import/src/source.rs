//! The old service's PostgreSQL, read a page at a time in id order (keyset pagination:
//! `WHERE id > $last ORDER BY id LIMIT n`, so a page costs the same wherever it is and a
//! resumed run starts where it stopped). TLS when the URL asks for it (`sslmode=require`)
//! or a CA file is given.

use std::path::Path;
use std::str::FromStr;

use shared::error::with_causes;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use crate::rows::{RelationshipRow, UserRow};

/// The CA certificates of a PEM file.
fn roots_from(file: &Path) -> Result<rustls::RootCertStore, String> {
    use rustls::pki_types::pem::PemObject as _;
    let unreadable = |e: rustls::pki_types::pem::Error| format!("the CA file {}: {e}", file.display());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(file).map_err(unreadable)? {
        roots.add(cert.map_err(unreadable)?).map_err(|e| format!("the CA file {}: {e}", file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("the CA file {} holds no certificate", file.display()));
    }
    Ok(roots)
}

pub const PAGE: i64 = 1000;

pub struct Source {
    client: Client,
}

impl Source {
    /// Connects to `url` (`postgres://user:password@host:port/db?sslmode=…`). With
    /// `root_cert` (a PEM file of CA certificates, as libpq's `sslrootcert`: Amazon RDS's
    /// bundle, say) TLS is required and the server must hold a certificate of that CA;
    /// with `sslmode=require` alone it must hold one of a public CA (Mozilla's roots).
    pub async fn connect(url: &str, root_cert: Option<&Path>) -> Result<Self, String> {
        let config = tokio_postgres::Config::from_str(url).map_err(|e| format!("the PostgreSQL URL: {e}"))?;
        let tls = match root_cert {
            Some(file) => Some(shared::web_tls::client_config_trusting(roots_from(file)?)),
            None if config.get_ssl_mode() == SslMode::Require => Some(shared::web_tls::client_config()),
            None => None,
        };
        let client = match tls {
            None => {
                let (client, connection) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| format!("connecting to PostgreSQL: {}", with_causes(&e)))?;
                tokio::spawn(async move { log_end(connection.await) });
                client
            }
            Some(tls) => {
                let tls = tls.map_err(|e| format!("TLS: {e}"))?;
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
                let mut config = config;
                config.ssl_mode(SslMode::Require);
                let (client, connection) = config
                    .connect(tls)
                    .await
                    .map_err(|e| format!("connecting to PostgreSQL over TLS: {}", with_causes(&e)))?;
                tokio::spawn(async move { log_end(connection.await) });
                client
            }
        };
        Ok(Source { client })
    }

    /// How many rows each table holds.
    pub async fn count(&self, table: &str) -> Result<i64, String> {
        let query = match table {
            "users" => "SELECT count(*) FROM users",
            "user_profiles" => "SELECT count(*) FROM user_profiles",
            "user_relationships" => "SELECT count(*) FROM user_relationships",
            other => return Err(format!("no table {other}")),
        };
        let row =
            self.client.query_one(query, &[]).await.map_err(|e| format!("counting {table}: {}", with_causes(&e)))?;
        Ok(row.get(0))
    }

    /// Users after `after` in id order, each with its profile.
    pub async fn users(&self, after: Option<Uuid>) -> Result<Vec<UserRow>, String> {
        let rows = self
            .client
            .query(
                "SELECT u.id, u.username, u.email, u.password_hash, u.first_name, u.last_name, u.profile_picture,
                        u.bio, u.date_of_birth, u.is_verified, u.is_active, u.last_login, u.created_at, u.updated_at,
                        p.phone, p.location, p.website, p.occupation, p.interests, p.privacy_settings,
                        p.notification_preferences, p.social_links
                 FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id
                 WHERE $1::uuid IS NULL OR u.id > $1::uuid
                 ORDER BY u.id LIMIT $2",
                &[&after, &PAGE],
            )
            .await
            .map_err(|e| format!("reading users: {}", with_causes(&e)))?;
        rows.iter().map(user_row).collect()
    }

    /// Relationships after `after` in id order.
    pub async fn relationships(&self, after: Option<Uuid>) -> Result<Vec<RelationshipRow>, String> {
        let rows = self
            .client
            .query(
                "SELECT id, follower_id, following_id, relationship_type, status, created_at
                 FROM user_relationships
                 WHERE $1::uuid IS NULL OR id > $1::uuid
                 ORDER BY id LIMIT $2",
                &[&after, &PAGE],
            )
            .await
            .map_err(|e| format!("reading relationships: {}", with_causes(&e)))?;
        rows.iter()
            .map(|row| {
                Ok(RelationshipRow {
                    id: get(row, "id")?,
                    follower_id: get(row, "follower_id")?,
                    following_id: get(row, "following_id")?,
                    relationship_type: get::<Option<String>>(row, "relationship_type")?
                        .unwrap_or_else(|| "follow".into()),
                    status: get::<Option<String>>(row, "status")?.unwrap_or_else(|| "pending".into()),
                    created_at: get(row, "created_at")?,
                })
            })
            .collect()
    }
}

fn user_row(row: &Row) -> Result<UserRow, String> {
    Ok(UserRow {
        id: get(row, "id")?,
        username: get::<Option<String>>(row, "username")?.unwrap_or_default(),
        email: get::<Option<String>>(row, "email")?.unwrap_or_default(),
        password_hash: get(row, "password_hash")?,
        first_name: get(row, "first_name")?,
        last_name: get(row, "last_name")?,
        profile_picture: get(row, "profile_picture")?,
        bio: get(row, "bio")?,
        date_of_birth: get(row, "date_of_birth")?,
        is_verified: get(row, "is_verified")?,
        is_active: get(row, "is_active")?,
        last_login: get(row, "last_login")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        phone: get(row, "phone")?,
        location: get(row, "location")?,
        website: get(row, "website")?,
        occupation: get(row, "occupation")?,
        interests: get(row, "interests")?,
        privacy_settings: get(row, "privacy_settings")?,
        notification_preferences: get(row, "notification_preferences")?,
        social_links: get(row, "social_links")?,
    })
}

/// A column, or what is wrong with it (a schema other than the old service's).
fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, column: &str) -> Result<T, String> {
    row.try_get(column).map_err(|e| format!("column {column}: {e}"))
}

/// A command on the terminal: said on stderr (the query under way fails as well).
fn log_end(result: Result<(), tokio_postgres::Error>) {
    if let Err(err) = result {
        eprintln!("import-node: the PostgreSQL connection ended: {err}");
    }
}
