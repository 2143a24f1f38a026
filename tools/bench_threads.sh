#!/usr/bin/env bash
# tools/bench_threads.sh [SCAN] [OUT_DIR] [ROUNDS]: the network and whole-pipeline times of the
# real scan idle and beside 1 or 2 busy cores, for the thread settings of docs/RESULTS.md, "A busy
# robot CPU" (issue 18), side by side, ROUNDS times (default 2). Paths relative to the repository.
cd "$(dirname "$0")/.."
scan=${1:-../shared/data/scannet_scene0000_00/scene0000_00_vert_all.npy}
out=${2:-/tmp/occuseg_bench_threads}
rounds=${3:-2}
mkdir -p $out
bench() { # NAME BUSY [env and flags...]
  local name=$1 busy=$2; shift 2
  local flags=() envs=()
  for a in "$@"; do case $a in *=*) envs+=("$a");; *) flags+=("$a");; esac; done
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "${envs[@]}" .venv/bin/occuseg bench $scan --repeat 5 \
    --busy-cores $busy "${flags[@]}" --json $out/${name}_b${busy}_r$round.json > /dev/null 2>&1
}
for round in $(seq $rounds); do
  for busy in 1 2; do
    bench auto $busy                                   # the default: threads follow the free cores
    bench auto_spin1000 $busy GOMP_SPINCOUNT=1000      # the same, idle threads spin less
    bench spin_t2 $busy --threads 2                    # the default before issue 18: GNU spin, 2 threads
    bench passive_t2 $busy OMP_WAIT_POLICY=PASSIVE --threads 2   # the default of 2026-12-06
    bench spin_t1 $busy --threads 1
  done
done
.venv/bin/python - "$out" <<'PY'
import json, glob, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    d = json.load(open(f)); b = d["busy"]
    threads = lambda rows: ",".join(str(t) for r in rows for t in r.get("network_threads", []))
    print(f.split("/")[-1], d["omp_wait_policy"], d["threads"],
          "idle net/total %.0f/%.0f [%s]" % (1e3*d["mean_network_s"], 1e3*d["mean_total_s"], threads(d["scenes"])),
          "busy%d net/total %.0f/%.0f [%s]" % (b["cores"], 1e3*b["mean_network_s"], 1e3*b["mean_total_s"], threads(b["scenes"])),
          "ratio net %.2f total %.2f" % (b["ratio"]["network"], b["ratio"]["total"]))
PY
