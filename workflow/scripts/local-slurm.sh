#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, from Debian's packages, for the cluster test
# (tests/test_slurm_cluster.py, `make test-cluster`) and for trying the SLURM profile.
#
#   workflow/scripts/local-slurm.sh start    # install if needed, start, wait for an idle node
#   workflow/scripts/local-slurm.sh status   # the node, the daemons, the accounting cluster
#   workflow/scripts/local-slurm.sh stop     # stop every daemon it started
#
# Debian 12 (SLURM 22.05) or Ubuntu, as root (or with sudo), no systemd needed: munged,
# MariaDB, slurmdbd, slurmctld and slurmd are started by hand. Accounting (slurmdbd on a
# local MariaDB) is on because the executor plugin polls job states with `sacct`, and
# `sacct` and `sacctmgr` answer only with it. The jobs run as the submitting user on this
# host, so the repository is the "shared file system". Processes are tracked by
# proctrack/linuxproc with task/none: no cgroups, so the memory a job asks for is
# bookkeeping only (SLURM admits jobs by it but enforces nothing; see the README).
# `start` is idempotent: running daemons are left alone, a missing one is started. It
# refuses to touch a slurm.conf it did not write. Every step waits with a timeout and,
# on failure, prints the daemons' logs.
set -euo pipefail

CLUSTER=rhem-local              # ClusterName, and the accounting cluster
ACCOUNT=rhem                    # the account jobs are charged to (profile: slurm_account)
PARTITION=debug                 # the only partition, the default one
MARK="# written by rhem workflow/scripts/local-slurm.sh"
ETC=/etc/slurm
LOGS=/var/log/slurm
STATE=/var/lib/slurm
DB_PASS=rhem-local-only         # MariaDB password of the slurm user; the DB listens on a socket
WAIT_S=${LOCAL_SLURM_WAIT_S:-90}
SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)

log() { echo "local-slurm: $*" >&2; }

# Print the daemons' logs (called when a step fails).
show_logs() {
    for f in "$LOGS"/slurmctld.log "$LOGS"/slurmd.log "$LOGS"/slurmdbd.log "$LOGS"/mariadb.log \
             /var/log/munge/munged.log; do
        [ -r "$f" ] && { echo "===== $f (last 40 lines)"; tail -n 40 "$f"; }
    done >&2
    sinfo -N -l >&2 2>&1 || true
}

die() { log "error: $*"; show_logs; exit 1; }

# Run "$@" until it succeeds or WAIT_S seconds pass; $1 names what is awaited.
wait_for() {
    local what=$1; shift
    local deadline=$((SECONDS + WAIT_S))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${WAIT_S}s waiting for $what"
        sleep 1
    done
}

# True when the pid in file $1 is a live process named like the file (munged,
# mysqld -> mariadbd, slurmctld, slurmd, slurmdbd): a stale file whose pid was reused
# does not count.
alive() {
    local pid name
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    name=$(basename "$1" .pid)
    [ "$name" = mysqld ] && name=mariadbd
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]
}

install_packages() {
    local missing=()
    command -v munged >/dev/null || [ -x /usr/sbin/munged ] || missing+=(munge)
    [ -x /usr/sbin/slurmctld ] || missing+=(slurm-wlm)
    [ -x /usr/sbin/slurmdbd ] || missing+=(slurmdbd)
    [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
    [ ${#missing[@]} -eq 0 ] && return
    log "installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# Write $2 to file $1 (root-owned, mode $3) unless an existing file lacks our mark.
write_conf() {
    local file=$1 text=$2 mode=$3
    if [ -e "$file" ] && ! $SUDO grep -qF "$MARK" "$file"; then
        die "$file exists and was not written by this script; not touching it"
    fi
    printf '%s\n%s\n' "$MARK" "$text" | $SUDO tee "$file" >/dev/null
    $SUDO chmod "$mode" "$file"
}

write_configs() {
    local host node
    host=$(hostname -s)
    # This machine's CPUs, sockets, cores and memory, as slurmd sees them; 5% of the
    # memory is left to the system.
    node=$(slurmd -C | head -n 1 | awk '{for (i = 1; i <= NF; i++) {
        if ($i ~ /^RealMemory=/) { split($i, kv, "="); $i = "RealMemory=" int(kv[2] * 0.95) } }
        print }')
    $SUDO mkdir -p "$ETC" "$LOGS" "$STATE"/slurmctld "$STATE"/slurmd
    $SUDO chown slurm:slurm "$LOGS" "$STATE"/slurmctld
    write_conf "$ETC/slurm.conf" "ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
# no cgroups: processes tracked through /proc, no CPU binding, no memory enforcement
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=300
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP" 644
    write_conf "$ETC/slurmdbd.conf" "AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
PidFile=/run/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db" 600
    $SUDO chown slurm:slurm "$ETC/slurmdbd.conf"
}

start_munge() {
    $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
    $SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge
    [ -s /etc/munge/munge.key ] || $SUDO runuser -u munge -- mungekey --create
    if ! alive /run/munge/munged.pid; then
        log "starting munged"
        $SUDO runuser -u munge -- /usr/sbin/munged
    fi
    wait_for "munge credentials" sh -c 'munge -n | unmunge'
}

start_mariadb() {
    $SUDO mkdir -p /run/mysqld
    $SUDO chown mysql:mysql /run/mysqld
    if ! alive /run/mysqld/mysqld.pid; then
        log "starting MariaDB (accounting storage)"
        $SUDO setsid /usr/sbin/mariadbd --user=mysql --skip-networking \
            --pid-file=/run/mysqld/mysqld.pid --socket=/run/mysqld/mysqld.sock \
            --log-error="$LOGS/mariadb.log" </dev/null >/dev/null 2>&1 &
    fi
    wait_for "MariaDB" $SUDO mariadb-admin --socket=/run/mysqld/mysqld.sock ping
    $SUDO mariadb --socket=/run/mysqld/mysqld.sock -e "
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
}

start_slurm() {
    if ! alive /run/slurmdbd.pid; then
        log "starting slurmdbd"
        $SUDO /usr/sbin/slurmdbd
    fi
    wait_for "slurmdbd" sacctmgr -n show cluster
    if [ -z "$(sacctmgr -n -P show cluster "$CLUSTER" format=cluster)" ]; then
        $SUDO sacctmgr -i add cluster "$CLUSTER" >/dev/null
    fi
    if [ -z "$(sacctmgr -n -P show account "$ACCOUNT" format=account)" ]; then
        $SUDO sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" \
            Description="rhem local cluster" Organization=rhem >/dev/null
    fi
    local user
    for user in root ${SUDO_USER:-} "$(id -un)"; do
        if [ -z "$(sacctmgr -n -P show assoc user="$user" account="$ACCOUNT" format=user)" ]; then
            $SUDO sacctmgr -i add user "$user" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" >/dev/null
        fi
    done
    if ! alive /run/slurmctld.pid; then
        log "starting slurmctld"
        $SUDO /usr/sbin/slurmctld
    fi
    wait_for "slurmctld" scontrol ping
    if ! alive /run/slurmd.pid; then
        log "starting slurmd"
        $SUDO /usr/sbin/slurmd
    fi
    wait_for "an idle node" node_ready
}

# True when the node takes jobs; a node left down or drained by an earlier run is resumed.
node_ready() {
    local state
    state=$(sinfo -h -N -o %T | head -n 1)
    case $state in
        idle|mixed|allocated) return 0 ;;
        down*|drain*|fail*) $SUDO scontrol update nodename="$(hostname -s)" state=resume ;;
    esac
    return 1
}

start() {
    install_packages
    write_configs
    start_munge
    start_mariadb
    start_slurm
    log "ready: cluster $CLUSTER, partition $PARTITION, account $ACCOUNT ($(sinfo -h -o '%D node, %c CPUs, %m MB'))"
}

# Stop the daemon whose pid file is $1 with signal TERM, waiting until it is gone.
stop_pid() {
    local file=$1 pid deadline=$((SECONDS + WAIT_S))
    if alive "$file"; then
        pid=$(cat "$file")
        $SUDO kill "$pid" 2>/dev/null || true
        while $SUDO kill -0 "$pid" 2>/dev/null; do
            [ "$SECONDS" -lt "$deadline" ] || { log "$file: pid $pid ignores TERM, killing"; $SUDO kill -9 "$pid"; }
            sleep 0.5
        done
    fi
    # a stale pid file makes Debian's package scripts call scancel on a stopped cluster
    $SUDO rm -f "$file"
}

stop() {
    if alive /run/slurmctld.pid; then
        $SUDO scancel --state=PENDING,RUNNING,SUSPENDED --full --quiet "--user=$(id -un)" 2>/dev/null || true
    fi
    stop_pid /run/slurmd.pid
    stop_pid /run/slurmctld.pid
    stop_pid /run/slurmdbd.pid
    if alive /run/mysqld/mysqld.pid; then
        $SUDO mariadb-admin --socket=/run/mysqld/mysqld.sock shutdown || true
    fi
    stop_pid /run/mysqld/mysqld.pid
    stop_pid /run/munge/munged.pid
    log "stopped"
}

status() {
    local file
    for file in /run/munge/munged.pid /run/mysqld/mysqld.pid /run/slurmdbd.pid /run/slurmctld.pid \
                /run/slurmd.pid; do
        if alive "$file"; then echo "$file: running (pid $(cat "$file"))"; else echo "$file: not running"; fi
    done
    alive /run/slurmctld.pid && sinfo -N -l
    alive /run/slurmdbd.pid && sacctmgr -n show assoc format=cluster,account,user
    return 0
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    logs) show_logs ;;
    *) echo "usage: $0 start|stop|status|logs" >&2; exit 2 ;;
esac
