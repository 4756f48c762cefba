//! `import-node --source <postgres URL> [--ssl-root-cert FILE] [--rejects FILE]
//! [--name NAME] [--dry-run] [--concurrency N] [--checkpoint-every N]`: moves the old
//! Node service's users, profiles and relationships into the table (`TABLE_NAME`, and
//! AWS's usual settings: DynamoDB Local through `AWS_ENDPOINT_URL_DYNAMODB`, or AWS with
//! the operator's credentials). The source URL may also come from `SOURCE_DATABASE_URL`,
//! so that no password sits in the shell's history, and the CA file from
//! `PGSSLROOTCERT`, as libpq reads it. Prints the report as JSON; rejects go to the
//! rejects file.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("import-node: {message}\nusage: import-node --source <postgres URL> [--ssl-root-cert FILE] [--rejects FILE] [--name NAME] [--dry-run] [--concurrency N] [--checkpoint-every N]");
            return ExitCode::from(2);
        }
    };
    let config = match shared::config::Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("import-node: {err}");
            return ExitCode::FAILURE;
        }
    };
    // A batch tool, not a request: each call may take longer than the API's bound.
    let aws = shared::aws::sdk_config(config.tls_native_roots).await;
    let timeout = std::time::Duration::from_millis(config.dynamodb_timeout_ms.max(30_000));
    let store = shared::store::Store::new(&aws, config.table_name.clone(), timeout);
    match node_import::run(&store, &options).await {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            eprintln!("rejected rows are listed in {}", options.rejects.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("import-node: {message} (run it again: it continues from its checkpoint)");
            ExitCode::FAILURE
        }
    }
}

fn options(args: Vec<String>) -> Result<node_import::Options, String> {
    let mut options = node_import::Options {
        source: std::env::var("SOURCE_DATABASE_URL").unwrap_or_default(),
        ssl_root_cert: std::env::var_os("PGSSLROOTCERT").map(Into::into),
        name: "node".into(),
        rejects: "import-rejects.jsonl".into(),
        dry_run: false,
        concurrency: 16,
        checkpoint_every: 200,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--source" => options.source = value()?,
            "--rejects" => options.rejects = value()?.into(),
            "--ssl-root-cert" => options.ssl_root_cert = Some(value()?.into()),
            "--name" => options.name = value()?,
            "--concurrency" => {
                options.concurrency =
                    value()?.parse().ok().filter(|n| (1..=64).contains(n)).ok_or("--concurrency: 1 to 64")?
            }
            "--checkpoint-every" => {
                options.checkpoint_every =
                    value()?.parse().ok().filter(|n| *n >= 1).ok_or("--checkpoint-every: a number of accounts")?
            }
            "--dry-run" => options.dry_run = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.source.is_empty() {
        return Err("no source: --source or SOURCE_DATABASE_URL".into());
    }
    Ok(options)
}
