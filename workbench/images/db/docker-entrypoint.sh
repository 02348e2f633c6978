#!/bin/bash
# The db test image's entrypoint (a test fixture): Debian's PostgreSQL 15 started the way the
# official postgres image starts it, honouring the same documented environment:
#   POSTGRES_USER (default postgres), POSTGRES_PASSWORD, POSTGRES_DB (default $POSTGRES_USER),
#   POSTGRES_HOST_AUTH_METHOD (default: the server's password_encryption), POSTGRES_INITDB_ARGS,
#   PGDATA (default /var/lib/postgresql/data), and *.sql / *.sh files in
#   /docker-entrypoint-initdb.d, run once when an empty PGDATA is initialised.
# It runs under any uid (a passwd entry is faked with nss_wrapper when the uid has none) on a
# read-only root: it writes only to PGDATA, /var/run/postgresql and /tmp. Written for this
# project; no code of the official image's entrypoint is used.
set -Eeuo pipefail

export PATH="/usr/lib/postgresql/15/bin:$PATH"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
POSTGRES_INITDB_ARGS="${POSTGRES_INITDB_ARGS:-}"
POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-}"
INIT_DIR=/docker-entrypoint-initdb.d

log() { printf 'db-entrypoint: %s\n' "$*" >&2; }

# initdb and postgres want the running uid in the passwd database.
fake_passwd_entry() {
  getent passwd "$(id -u)" >/dev/null && return 0
  local wrapper
  wrapper=$(find /usr/lib -name libnss_wrapper.so -print -quit)
  [[ -n $wrapper ]] || { log "uid $(id -u) has no passwd entry and nss_wrapper is missing"; exit 1; }
  NSS_WRAPPER_PASSWD=$(mktemp /tmp/passwd.XXXXXX)
  NSS_WRAPPER_GROUP=$(mktemp /tmp/group.XXXXXX)
  printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >"$NSS_WRAPPER_PASSWD"
  printf 'postgres:x:%s:\n' "$(id -g)" >"$NSS_WRAPPER_GROUP"
  export LD_PRELOAD="$wrapper" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
}

psql_local() {
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

run_init_files() {
  local file
  for file in "$INIT_DIR"/*; do
    [[ -e $file ]] || continue
    case $file in
      *.sql) log "running $file"; psql_local --dbname "$POSTGRES_DB" -f "$file" ;;
      *.sh) log "sourcing $file"; # shellcheck disable=SC1090
        . "$file" ;;
      *) log "ignoring $file" ;;
    esac
  done
}

initialise() {
  if [[ -z $POSTGRES_PASSWORD && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
    log "PGDATA is empty and POSTGRES_PASSWORD is not set: set it, or POSTGRES_HOST_AUTH_METHOD=trust"
    exit 1
  fi
  log "initialising $PGDATA"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
  # Network clients: listen everywhere, authenticate as POSTGRES_HOST_AUTH_METHOD says.
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  local method=$POSTGRES_HOST_AUTH_METHOD
  [[ -n $method ]] || method=$(postgres -C password_encryption "$@")
  printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"

  # A socket-only server for the setup steps.
  pg_ctl -D "$PGDATA" -w -o "$(printf '%q ' "$@" -c listen_addresses=)" start
  if [[ $POSTGRES_DB != postgres ]]; then
    psql_local --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  run_init_files
  pg_ctl -D "$PGDATA" -m fast -w stop
  log "initialised; starting"
}

main() {
  [[ ${1:-} == -* ]] && set -- postgres "$@"
  if [[ ${1:-} != postgres ]]; then
    exec "$@"
  fi
  shift
  fake_passwd_entry
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  if [[ ! -s $PGDATA/PG_VERSION ]]; then
    initialise "$@"
  fi
  # The official image has its runtime stop it with SIGINT (its STOPSIGNAL): a fast shutdown that
  # does not wait for clients to leave. crane, which assembles this image, cannot set a stop
  # signal: the entrypoint stays as the parent and turns the runtime's SIGTERM into SIGINT.
  postgres "$@" &
  local pid=$! status=0
  trap 'kill -INT "$pid" 2>/dev/null || true' TERM INT
  wait "$pid" || status=$?
  # A trapped signal ends the first wait early: wait for postgres itself.
  while kill -0 "$pid" 2>/dev/null; do wait "$pid" || status=$?; done
  exit "$status"
}

main "$@"
