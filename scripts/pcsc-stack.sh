#!/usr/bin/env bash
# The real PC/SC stack for tests and for serving the simulator: pcscd with vsmartcard's vpcd driver,
# without systemd. See docs/pcsc.md.
#
#   pcsc-stack.sh install [--dev]   install what is missing (as root); --dev adds libpcsclite-dev, pkg-config
#   pcsc-stack.sh start             start pcscd in the background; wait for its socket and vpcd's port
#   pcsc-stack.sh stop              stop the pcscd this script started (SIGTERM, then wait)
#   pcsc-stack.sh restart
#   pcsc-stack.sh status            exit 0 when pcscd and vpcd are ready
#
# Exit codes: 0 done, 1 not ready (status), 2 usage, 3 packages missing and not root,
# 4 pcscd did not come up, 5 pcscd would not stop, 6 a pcscd this script did not start is in the way
# (it lacks vpcd, or restart was asked).
set -euo pipefail

PACKAGES=(pcscd vsmartcard-vpcd opensc pcsc-tools)
DEV_PACKAGES=(libpcsclite-dev pkg-config)
PCSCD=/usr/sbin/pcscd
VPCD_DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
RUN_DIR=/run/pcscd
SOCKET=$RUN_DIR/pcscd.comm
VPCD_PORT_HEX=8C7B # 35963, vpcd's first slot
STATE_DIR=${PCSC_STACK_DIR:-${TMPDIR:-/tmp}/sscard-pcsc-stack}
PID_FILE=$STATE_DIR/pcscd.pid
LOG_FILE=$STATE_DIR/pcscd.log
READY_TIMEOUT_S=10

say() { echo "pcsc-stack: $*" >&2; }

# A live process (not a zombie, which no longer owns its files) whose command is pcscd.
is_live_pcscd() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm && $(cat "/proc/$pid/comm" 2>/dev/null) == pcscd ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

any_live_pcscd() {
    local comm pid
    for comm in /proc/[0-9]*/comm; do
        pid=${comm#/proc/}
        pid=${pid%/comm}
        if is_live_pcscd "$pid"; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

socket_ready() { [[ -S $SOCKET ]]; }

# vpcd listens (state 0A) on its first port; read from /proc: connecting would insert a card.
vpcd_listening() { grep -qiE "^ *[0-9]+: [0-9A-F]+:$VPCD_PORT_HEX [0-9A-F]+:0000 0A " /proc/net/tcp; }

missing_packages() {
    local pkg
    for pkg in "$@"; do
        if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
            echo "$pkg"
        fi
    done
}

cmd_install() {
    local wanted=("${PACKAGES[@]}")
    case ${1:-} in
        --dev) wanted+=("${DEV_PACKAGES[@]}") ;;
        "") ;;
        *) say "unknown option $1"; exit 2 ;;
    esac
    local missing
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    if ((${#missing[@]} == 0)); then
        say "installed: ${wanted[*]}"
        return 0
    fi
    if ((EUID != 0)); then
        say "missing packages: ${missing[*]}; run as root: $0 install $*"
        exit 3
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Removes pcscd's pid and socket files when no live pcscd owns them: a killed, unreaped pcscd
# leaves them, and a new one then refuses to start ("Another pcscd seems to be running").
clean_stale_files() {
    local pid
    pid=$(tr -dc 0-9 2>/dev/null <"$RUN_DIR/pcscd.pid" || true)
    if [[ -e $RUN_DIR/pcscd.pid || -e $SOCKET ]] && ! is_live_pcscd "$pid" && ! any_live_pcscd >/dev/null; then
        say "removing stale $RUN_DIR/pcscd.{pid,comm}"
        rm -f "$RUN_DIR/pcscd.pid" "$SOCKET"
    fi
}

cmd_start() {
    if [[ ! -x $PCSCD || ! -e $VPCD_DRIVER ]]; then
        say "pcscd or vsmartcard-vpcd is not installed: run $0 install"
        exit 3
    fi
    mkdir -p "$STATE_DIR"
    local pid
    if pid=$(any_live_pcscd); then
        if socket_ready && vpcd_listening; then
            say "pcscd is already running (pid $pid) with vpcd on 127.0.0.1:35963"
            return 0
        fi
        # Started before vpcd was installed (it reads its drivers only at start), or still starting.
        if ! wait_ready; then
            say "pcscd (pid $pid) is running without vpcd: stop it and run $0 start"
            exit 6
        fi
        return 0
    fi
    clean_stale_files
    # pcscd gets no descriptor of ours but 0-2: a caller's lock (tests run under
    # `flock /tmp/sscard-pcsc.lock`, some restart pcscd) would otherwise live on in pcscd and
    # hold the lock for every other caller until pcscd stops.
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec setsid "$PCSCD" --foreground --info >"$LOG_FILE" 2>&1 </dev/null
    ) &
    pid=$!
    echo "$pid" >"$PID_FILE"
    if ! wait_ready; then
        say "pcscd (pid $pid) did not come up within ${READY_TIMEOUT_S} s; its log: $LOG_FILE"
        tail -n 20 "$LOG_FILE" >&2 || true
        cmd_stop || true
        exit 4
    fi
    say "pcscd started (pid $pid), vpcd listening on 127.0.0.1:35963; log: $LOG_FILE"
}

wait_ready() {
    local tries=$((READY_TIMEOUT_S * 20))
    while ((tries-- > 0)); do
        if socket_ready && vpcd_listening; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

cmd_stop() {
    local pid
    pid=$(cat "$PID_FILE" 2>/dev/null || true)
    if ! is_live_pcscd "$pid"; then
        rm -f "$PID_FILE"
        clean_stale_files
        say "pcscd is not running (not started by this script)"
        return 0
    fi
    kill -TERM "$pid"
    local tries=$((READY_TIMEOUT_S * 20))
    while is_live_pcscd "$pid" && ((tries-- > 0)); do
        sleep 0.05
    done
    if is_live_pcscd "$pid"; then
        say "pcscd (pid $pid) did not stop on SIGTERM; sending SIGKILL"
        kill -KILL "$pid" || true
        sleep 0.2
    fi
    if is_live_pcscd "$pid"; then
        say "pcscd (pid $pid) would not stop"
        exit 5
    fi
    rm -f "$PID_FILE"
    clean_stale_files
    say "pcscd stopped"
}

cmd_status() {
    local pid
    if pid=$(any_live_pcscd); then
        echo "pcscd: running (pid $pid)"
    else
        echo "pcscd: not running"
    fi
    if socket_ready; then echo "socket: $SOCKET"; else echo "socket: absent"; fi
    if vpcd_listening; then echo "vpcd: listening on 127.0.0.1:35963"; else echo "vpcd: not listening"; fi
    [[ -n ${pid:-} ]] && socket_ready && vpcd_listening
}

case ${1:-} in
    install) shift; cmd_install "$@" ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart)
        cmd_stop
        if pid=$(any_live_pcscd); then
            say "pcscd (pid $pid) was not started by this script; not restarting it"
            exit 6
        fi
        cmd_start
        ;;
    status) cmd_status || exit 1 ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
