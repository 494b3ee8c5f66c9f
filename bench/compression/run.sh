#!/usr/bin/env bash
# Runs the update-compression comparison on MNIST with the simulator.
# Prints one Markdown table row per codec: mean uplink bytes per round, how
# many times fewer than uncompressed, and the final test accuracy (the mean
# over the seeds, with the lowest and highest in brackets).
#
# Usage: bench/compression/run.sh [ROUNDS] [SEEDS...]   (from the repository root)
# ONLY=REGEX runs just the codecs whose name matches the extended regex.
set -euo pipefail

rounds=${1:-50}
shift || true
seeds=("${@:-1}")
if [[ $# -eq 0 ]]; then seeds=(1); fi
bin=${STARLING_BIN:-target/release/starling}
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT

if [[ ! -x $bin ]]; then
  cargo build --release -p starling
fi

echo "| codec | spec | uplink per round | vs none | test accuracy after $rounds rounds (seeds ${seeds[*]}) |"
echo "| --- | --- | --- | --- | --- |"
# `spec` is left unquoted on purpose: a row may add flags after the spec.
while read -r name spec; do
  if [[ -n ${ONLY:-} ]] && ! [[ $name =~ $ONLY ]]; then continue; fi
  dirs=()
  for seed in "${seeds[@]}"; do
    out="$runs/$name-$seed"
    "$bin" sim --clients 100 --fraction 0.1 --rounds "$rounds" --model mlp \
      --partition dirichlet --alpha 0.3 --local-epochs 5 --batch-size 10 --lr 0.05 \
      --seed "$seed" --eval-every 5 --runs-dir "$out" --compression $spec > /dev/null 2>&1
    dirs+=("$out"/*)
  done
  python3 - "$name" "$spec" "${dirs[@]}" <<'PY'
import json, sys
name, spec, *runs = sys.argv[1:]
up = dense = 0.0
accuracies = []
for run in runs:
    rounds = [json.loads(line) for line in open(f"{run}/metrics.jsonl") if line.strip()]
    up += sum(r["bytes_up"] for r in rounds) / len(rounds) / len(runs)
    dense += sum(r.get("bytes_up_uncompressed", r["bytes_up"]) for r in rounds) / len(rounds) / len(runs)
    accuracies.append([r["test_accuracy"] for r in rounds if r["test_accuracy"] is not None][-1] * 100)
mean = sum(accuracies) / len(accuracies)
spread = f" [{min(accuracies):.2f}, {max(accuracies):.2f}]" if len(accuracies) > 1 else ""
print(f"| {name} | `{spec}` | {up / 1024:,.1f} KiB | {dense / up:.1f}x | {mean:.2f}%{spread} |")
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
top-3%+8-bit+EF topk:0.03+8bit
top-5%+8-bit+EF topk:0.05+8bit
top-1%,no-EF topk:0.01 --no-error-feedback
top-1%+EF,warm-up topk:0.01 --sparsity-warmup 60 --sparsity-warmup-start 0.05
top-1%+8-bit+EF,warm-up topk:0.01+8bit --sparsity-warmup 60 --sparsity-warmup-start 0.05
CODECS
