#!/usr/bin/env bash
# A real single-node Slurm on loopback runs `moescale sweep --emit-slurm`'s job array; its
# results.csv must equal a local sweep's. Skips (exit 77) only where Slurm cannot be started:
# not root, or slurm-wlm/munge not installed (./scripts/setup.sh installs them).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "starting slurmctld/slurmd/munged needs root"
for p in munged slurmctld slurmd; do
  command -v "/usr/sbin/$p" >/dev/null || skip "/usr/sbin/$p missing (apt-get install slurm-wlm munge)"
done
command -v sbatch >/dev/null || skip "sbatch missing (apt-get install slurm-wlm)"

host=$(hostname -s)
conf=$TMP/slurm
mkdir -p "$conf/state" "$conf/spool" "$conf/log"
chown -R slurm:slurm "$conf"
chmod 755 "$TMP"
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 / 2 }' /proc/meminfo)
cat >"$conf/slurm.conf" <<CONF
ClusterName=moescaletest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$((20000 + RANDOM % 20000))
SlurmdPort=$((40000 + RANDOM % 20000))
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
AuthType=auth/munge
SlurmUser=slurm
StateSaveLocation=$conf/state
SlurmdSpoolDir=$conf/spool
SlurmctldPidFile=$conf/slurmctld.pid
SlurmdPidFile=$conf/slurmd.pid
SlurmctldLogFile=$conf/log/slurmctld.log
SlurmdLogFile=$conf/log/slurmd.log
ReturnToService=2
SchedulerType=sched/backfill
CONF
export SLURM_CONF=$conf/slurm.conf

munge_started=0
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0755 /run/munge
  [[ -f /etc/munge/munge.key ]] || /usr/sbin/mungekey --create >/dev/null 2>&1 || skip "cannot create a munge key"
  runuser -u munge -- /usr/sbin/munged --force 2>"$conf/log/munged.err" || skip "munged did not start: $(cat "$conf/log/munged.err")"
  munge_started=1
fi
cleanup() {
  scontrol shutdown >/dev/null 2>&1 || true
  sleep 1
  for f in "$conf/slurmctld.pid" "$conf/slurmd.pid"; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
  done
  if [[ $munge_started == 1 && -f /run/munge/munged.pid ]]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
/usr/sbin/slurmctld || skip "slurmctld did not start: $(tail -3 "$conf/log/slurmctld.log")"
/usr/sbin/slurmd || skip "slurmd did not start: $(tail -3 "$conf/log/slurmd.log")"
for _ in $(seq 1 30); do
  sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mix|alloc' && break
  sleep 1
done
sinfo -h -o '%T' | grep -qE 'idle|mix|alloc' || skip "the Slurm node did not come up: $(sinfo 2>&1 | tail -2)"

GRID=$HERE/micro.grid
"$BIN/markov_shards" "$TMP/data"
"$BIN/moescale" sweep --grid "$GRID" --data "$TMP/data" --workers 1 --threads 1 --out "$TMP/local" >/dev/null 2>&1
"$BIN/moescale" sweep --grid "$GRID" --data "$TMP/data" --out "$TMP/slurm-sweep" \
  --emit-slurm "$TMP/job.sbatch" --cpus-per-task 1 --time 00:10:00 --mem 1G
grep -q -- '--only "${RUN_IDS\[$SLURM_ARRAY_TASK_ID\]}"' "$TMP/job.sbatch" || fail "job script lacks --only"
chmod -R a+rX "$TMP"
sbatch --wait "$TMP/job.sbatch" || { cat "$TMP"/slurm-sweep/slurm/*.out; fail "the job array failed"; }
tasks=$(ls "$TMP"/slurm-sweep/slurm/*.out | wc -l)
[[ $tasks == 4 ]] || fail "expected 4 array task logs, found $tasks"
diff <(values "$TMP/local/results.csv") <(values "$TMP/slurm-sweep/results.csv") ||
  fail "results.csv of the Slurm job array differs from the local sweep's"
check_done_once "$TMP/slurm-sweep"
echo "PASS: $tasks Slurm array tasks; results.csv equals the local sweep's"
