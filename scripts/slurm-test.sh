#!/usr/bin/env bash
# slurm-test.sh: a private one-node Slurm for the test of the emitted job
# arrays (slurm_test.go), from Debian 12's own packages. As root:
#
#   scripts/slurm-test.sh start DIR   install munge, slurmctld, slurmd and
#                                     slurm-client if missing, then start
#                                     munged, slurmctld and slurmd with their
#                                     configuration, state, sockets and logs
#                                     in DIR, and wait until the node is idle
#   scripts/slurm-test.sh stop DIR    stop the daemons that start started
#                                     (by the process ids in DIR/run)
#
# The cluster is this machine alone: node $(hostname -s) at 127.0.0.1 with
# 2 CPUs in one partition "test", no cgroups (proctrack/linuxproc,
# task/none), no accounting. It touches neither /etc/slurm nor /etc/munge:
# clients find it through SLURM_CONF=DIR/slurm.conf. The ports are
# SLURM_TEST_PORTS (two, "CTLD,SLURMD"; default 26817,26818), so that it can
# run beside a real Slurm. Every failure exits non-zero with one line on
# stderr naming what failed and the log to read.
set -euo pipefail

log() { echo "slurm-test: $*" >&2; }
die() {
	log "$*"
	exit 1
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"
[ "$(id -u)" = 0 ] || die "needs root (the Slurm daemons and apt-get run as root)"

stop() {
	# Slurm first (it still talks to munged while it shuts down), then
	# munged; each by the process id it wrote, and only if that process is
	# still the daemon this script started.
	local name pidf pid i
	for name in slurmd slurmctld munged; do
		pidf="$dir/run/$name.pid"
		[ -s "$pidf" ] || continue
		pid=$(cat "$pidf")
		if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$name"; then
			kill -TERM "$pid" 2>/dev/null || true
			for i in $(seq 1 50); do
				[ -d "/proc/$pid" ] || break
				sleep 0.1
			done
			if [ -d "/proc/$pid" ]; then
				log "$name (pid $pid) did not stop within 5 s; killing it"
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
		rm -f "$pidf"
	done
}

if [ "$cmd" = stop ]; then
	stop
	exit 0
fi
[ "$cmd" = start ] || die "usage: $0 start|stop DIR"

t0=$(date +%s)
mkdir -p "$dir"
chmod 755 "$dir"
# Install what is missing. The packages' own services are not started
# (a policy-rc.d that denies them while apt runs, unless the machine has
# one): this script runs its own daemons with its own configuration.
need=()
for p in munge slurmctld slurmd slurm-client; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	own_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	ok=1
	apt-get update -qq >"$dir/apt.log" 2>&1 &&
		apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$dir/apt.log" 2>&1 || ok=0
	[ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ "$ok" = 1 ] || die "apt-get install ${need[*]} failed; see $dir/apt.log"
fi
t1=$(date +%s)
for c in munged munge slurmctld slurmd sbatch squeue scontrol sinfo; do
	command -v "$c" >/dev/null || die "$c not found after installing munge, slurmctld, slurmd and slurm-client"
done

IFS=, read -r ctld_port slurmd_port <<<"${SLURM_TEST_PORTS:-26817,26818}"
node=$(hostname -s)
[ -n "$node" ] || die "hostname -s is empty"
# munged is strict about its files: its socket's directory must be
# searchable by all, its key readable by it alone.
mkdir -p -m 755 "$dir/run"
mkdir -p -m 700 "$dir/munge"
mkdir -p -m 755 "$dir/ctld" "$dir/slurmd"
chown munge:munge "$dir/run" "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$dir/munge/munge.key"
chmod 600 "$dir/munge/munge.key"
sock="$dir/run/munge.socket"

cat >"$dir/slurm.conf" <<EOF
# A one-node Slurm for gridgpu's tests (scripts/slurm-test.sh).
ClusterName=gridgputest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/slurmd
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
# Seconds between SIGTERM and SIGKILL when a job is cancelled: time for a
# trainer to write its checkpoint.
KillWait=30
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$(hostname) CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"

# On any failure from here, stop what was started.
trap 'stop' ERR

runuser -u munge -- munged --socket="$sock" --key-file="$dir/munge/munge.key" \
	--log-file="$dir/munge/munged.log" --pid-file="$dir/run/munged.pid" \
	--seed-file="$dir/munge/munged.seed" ||
	die "munged did not start; see $dir/munge/munged.log"
munge -S "$sock" -n | unmunge -S "$sock" >/dev/null ||
	{ stop; die "munge cannot encode and decode a credential; see $dir/munge/munged.log"; }

slurmctld -f "$SLURM_CONF" || { stop; die "slurmctld did not start; see $dir/slurmctld.log"; }
slurmd -f "$SLURM_CONF" -N "$node" || { stop; die "slurmd did not start; see $dir/slurmd.log"; }

# The node registers within seconds; wait up to 60 s for it to be idle.
state=""
for i in $(seq 1 120); do
	state=$(sinfo -h -n "$node" -o '%T' 2>/dev/null || true)
	[ "$state" = idle ] && break
	sleep 0.5
done
if [ "$state" != idle ]; then
	stop
	die "node $node is '${state:-unknown}', not idle, 60 s after the start; see $dir/slurmctld.log and $dir/slurmd.log"
fi
t2=$(date +%s)
log "Slurm up: node $node idle; install $((t1 - t0)) s, start $((t2 - t1)) s; SLURM_CONF=$SLURM_CONF"
