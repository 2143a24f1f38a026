#!/usr/bin/env bash
# tools/bench_threads.sh [SCAN] [OUT_DIR]: the network and whole-pipeline times of the real scan
# idle and beside 1 or 2 busy cores, for the OpenMP wait policies and thread counts of
# docs/RESULTS.md, "A busy robot CPU" (issue 18). Paths relative to the repository root.
cd "$(dirname "$0")/.."
scan=${1:-../shared/data/scannet_scene0000_00/scene0000_00_vert_all.npy}
out=${2:-/tmp/occuseg_bench_threads}
mkdir -p $out
for busy in 1 2; do
  # the old default: torch loaded before occuseg_core, so OMP_WAIT_POLICY stays unset (GNU: spin)
  env -u OMP_WAIT_POLICY .venv/bin/python -c "import torch, sys; from occuseg_core.cli import main; sys.exit(main(sys.argv[1:]))" bench $scan --repeat 3 --busy-cores $busy --json $out/unset_t2_b$busy.json > /dev/null 2>&1
  env -u OMP_WAIT_POLICY .venv/bin/occuseg bench $scan --repeat 3 --busy-cores $busy --json $out/passive_t2_b$busy.json > /dev/null 2>&1
  env -u OMP_WAIT_POLICY .venv/bin/occuseg bench $scan --repeat 3 --threads 1 --busy-cores $busy --json $out/passive_t1_b$busy.json > /dev/null 2>&1
  env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1000 .venv/bin/occuseg bench $scan --repeat 3 --busy-cores $busy --json $out/spin1000_t2_b$busy.json > /dev/null 2>&1
done
.venv/bin/python - "$out" <<'PY'
import json, glob, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    d = json.load(open(f)); b = d["busy"]
    print(f.split("/")[-1], d["omp_wait_policy"], d["threads"], "idle net/total %.0f/%.0f" % (1e3*d["mean_network_s"], 1e3*d["mean_total_s"]),
          "busy%d net/total %.0f/%.0f" % (b["cores"], 1e3*b["mean_network_s"], 1e3*b["mean_total_s"]), "ratio net %.2f total %.2f" % (b["ratio"]["network"], b["ratio"]["total"]))
PY
