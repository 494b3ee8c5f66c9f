#!/usr/bin/env bash
# Runs the update-compression comparison on MNIST with the simulator and
# prints one Markdown table row per codec: uplink bytes per round (mean),
# how many times fewer than uncompressed, and the final test accuracy.
#
# Usage: bench/compression/run.sh [ROUNDS] [SEED]   (from the repository root)
set -euo pipefail

rounds=${1:-50}
seed=${2:-1}
bin=${STARLING_BIN:-target/release/starling}
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT

if [[ ! -x $bin ]]; then
  cargo build --release -p starling
fi

common=(sim --clients 100 --fraction 0.1 --rounds "$rounds" --model mlp
  --partition dirichlet --alpha 0.3 --local-epochs 5 --batch-size 10 --lr 0.05
  --seed "$seed" --eval-every 5 --runs-dir "$runs")

echo "| codec | spec | uplink per round | vs none | test accuracy after $rounds rounds | wall time |"
echo "| --- | --- | --- | --- | --- | --- |"
while read -r name spec; do
  before=$(ls "$runs" | wc -l)
  start=$(date +%s)
  "$bin" "${common[@]}" --compression "$spec" > /dev/null 2>&1
  took=$(( $(date +%s) - start ))
  run=$(ls -t "$runs" | head -1)
  python3 - "$runs/$run" "$name" "$spec" "$took" <<'PY'
import json, sys
run, name, spec, took = sys.argv[1:]
rounds = [json.loads(line) for line in open(f"{run}/metrics.jsonl") if line.strip()]
up = sum(r["bytes_up"] for r in rounds) / len(rounds)
dense = sum(r.get("bytes_up_uncompressed", r["bytes_up"]) for r in rounds) / len(rounds)
accuracy = [r["test_accuracy"] for r in rounds if r["test_accuracy"] is not None][-1]
print(f"| {name} | `{spec}` | {up / 1024:,.1f} KiB | {dense / up:.1f}x | {accuracy * 100:.2f}% | {took} s |")
PY
done <<'CODECS'
none none
8-bit 8bit
QSGD(s=256) qsgd:256
1-bit+EF sign
top-1%+EF topk:0.01
top-5%+EF topk:0.05
rand-5%+EF randk:0.05
top-1%+8-bit+EF topk:0.01+8bit
CODECS
