#!/usr/bin/env bash
# PostgreSQL for the back office's tests (docs/back-office.md), without systemd: a private
# cluster under /tmp owned by the postgres user, listening on 127.0.0.1 only, with a test role
# and database.
#
#   postgres-stack.sh install   install Debian's postgresql when missing (as root)
#   postgres-stack.sh start     initialise the private cluster if needed, start it, create the
#                               test role and database; print the URL for SSCARD_TEST_POSTGRES_URL
#   postgres-stack.sh stop      stop the cluster this script started
#   postgres-stack.sh restart   stop, then start (the reliability tests restart it under load)
#   postgres-stack.sh status    exit 0 when it answers
#   postgres-stack.sh url       print the URL
#
# Exit codes: 0 done, 1 not ready (status), 2 usage, 3 PostgreSQL missing and not root,
# 4 the server did not come up, 5 it would not stop.
set -euo pipefail

PORT=${SSCARD_PG_PORT:-55432}
STATE_DIR=${PG_STACK_DIR:-${TMPDIR:-/tmp}/sscard-postgres}
DATA_DIR=$STATE_DIR/data
LOG_FILE=$STATE_DIR/postgres.log
ROLE=sscard_test
PASSWORD=sscard_test
DATABASE=sscard_test
URL="postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
READY_TIMEOUT_S=30

say() { echo "postgres-stack: $*" >&2; }

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n $dir && -x $dir/pg_ctl ]] || return 1
    echo "$dir"
}

# Commands run as the cluster's owner: postgres when root (the server refuses to run as root),
# the caller otherwise.
as_owner() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install() {
    if pg_bin >/dev/null; then
        say "PostgreSQL is installed ($(pg_bin))"
        return 0
    fi
    if [[ $(id -u) != 0 ]]; then
        say "SKIPPED install: PostgreSQL is missing and this is not root (run: sudo $0 install)"
        return 3
    fi
    say "installing Debian's postgresql (the packaged service is not started)"
    # The package's scripts must not start a cluster of their own: no service manager here.
    local policy=/usr/sbin/policy-rc.d created=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
        || { [[ $created == 1 ]] && rm -f "$policy"; return 3; }
    [[ $created == 1 ]] && rm -f "$policy"
    pg_bin >/dev/null
}

ready() {
    local bin
    bin=$(pg_bin) || return 1
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$PORT"
}

start() {
    local bin
    bin=$(pg_bin) || { say "PostgreSQL is not installed: run $0 install (as root)"; return 3; }
    if ready; then
        say "already running on 127.0.0.1:$PORT"
        echo "$URL"
        return 0
    fi
    mkdir -p "$STATE_DIR"
    [[ $(id -u) == 0 ]] && chown postgres:postgres "$STATE_DIR"
    chmod 700 "$STATE_DIR"
    if [[ ! -s $DATA_DIR/PG_VERSION ]]; then
        say "initialising a private cluster in $DATA_DIR"
        as_owner "$bin/initdb" -D "$DATA_DIR" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$STATE_DIR/initdb.log" 2>&1 \
            || { cat "$STATE_DIR/initdb.log" >&2; return 4; }
    fi
    # Loopback only; the socket in the private directory, not /run/postgresql.
    as_owner "$bin/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t "$READY_TIMEOUT_S" \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $STATE_DIR -c fsync=on" start >/dev/null \
        || { tail -20 "$LOG_FILE" >&2; return 4; }
    as_owner "$bin/psql" -q -h "$STATE_DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DATABASE') \gexec
SQL
    say "running on 127.0.0.1:$PORT (log $LOG_FILE); export SSCARD_TEST_POSTGRES_URL=$URL"
    echo "$URL"
}

stop() {
    local bin
    bin=$(pg_bin) || { say "SKIPPED stop: PostgreSQL is not installed"; return 0; }
    if [[ ! -s $DATA_DIR/postmaster.pid ]]; then
        say "not running (nothing to stop)"
        return 0
    fi
    as_owner "$bin/pg_ctl" -D "$DATA_DIR" -m fast -w -t "$READY_TIMEOUT_S" stop >/dev/null \
        || return 5
    say "stopped"
}

case ${1:-} in
install) install ;;
start) start ;;
stop) stop ;;
restart) stop && start ;;
status) if ready; then say "ready on 127.0.0.1:$PORT"; else say "not running"; exit 1; fi ;;
url) echo "$URL" ;;
*)
    echo "usage: $0 install|start|stop|restart|status|url" >&2
    exit 2
    ;;
esac
