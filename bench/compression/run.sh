#!/usr/bin/env bash
# Runs the update-compression comparison on MNIST with the simulator.
# Prints one Markdown table row per codec: mean uplink bytes per round, how
# many times fewer than uncompressed, and the final test accuracy (the mean
# over the seeds, with the lowest and highest in brackets).
#
# Usage: bench/compression/run.sh [ROUNDS] [SEEDS...]   (from the repository root)
# ONLY=REGEX runs just the codecs whose name matches the extended regex.
# AT="R1 R2 ..." adds a column with the test accuracy after each of those
# rounds, read from the same runs; each must be a multiple of 5 (runs are
# evaluated every 5 rounds) below ROUNDS.
# RUNS_DIR=DIR keeps each run's folder under DIR (its metrics.jsonl has every
# evaluated round); without it the runs go to a temporary folder.
set -euo pipefail

usage() {
  echo "$1" >&2
  echo "usage: bench/compression/run.sh [ROUNDS] [SEEDS...]" >&2
  exit 2
}

# Numbers are read in base 10 (a leading zero is not octal) and kept short
# enough for shell arithmetic.
rounds=${1:-50}
[[ $rounds =~ ^[0-9]{1,6}$ ]] && ((10#$rounds > 0)) || usage "ROUNDS must be a whole number from 1, got '$rounds'"
rounds=$((10#$rounds))
shift || true
seeds=("$@")
if [[ $# -eq 0 ]]; then seeds=(1); fi
for seed in "${seeds[@]}"; do
  [[ $seed =~ ^[0-9]{1,18}$ ]] || usage "each SEED must be a whole number, got '$seed'"
done

read -r -a requested <<< "${AT:-}"
at=()
for round in "${requested[@]}"; do
  [[ $round =~ ^[0-9]{1,6}$ ]] || usage "AT must list whole numbers, got '$round'"
  round=$((10#$round))
  if ((round % 5 != 0 || round == 0 || round >= rounds)); then
    usage "AT: $round is not a multiple of 5 from 5 to below ROUNDS ($rounds)"
  fi
  [[ " ${at[*]} " != *" $round "* ]] || usage "AT lists $round twice"
  at+=("$round")
done
at+=("$rounds")

bin=${STARLING_BIN:-target/release/starling}
if [[ -n ${STARLING_BIN:-} && ! -x $bin ]]; then
  usage "STARLING_BIN=$bin is not an executable file"
fi
if [[ ! -x $bin ]]; then
  cargo build --release -p starling
fi
if [[ -n ${RUNS_DIR:-} ]]; then
  runs=$RUNS_DIR
  mkdir -p "$runs"
else
  runs=$(mktemp -d)
  trap 'rm -rf "$runs"' EXIT
fi

header="| codec | spec | uplink per round | vs none |"
rule="| --- | --- | --- | --- |"
for round in "${at[@]}"; do
  header+=" test accuracy after $round rounds (seeds ${seeds[*]}) |"
  rule+=" --- |"
done
echo "$header"
echo "$rule"
# `spec` is left unquoted on purpose: a row may add flags after the spec.
while read -r name spec; do
  if [[ -n ${ONLY:-} ]] && ! [[ $name =~ $ONLY ]]; then continue; fi
  dirs=()
  for seed in "${seeds[@]}"; do
    out="$runs/$name-$seed"
    if [[ -e $out ]]; then
      echo "$out already exists; give RUNS_DIR an empty folder" >&2
      exit 2
    fi
    if ! "$bin" sim --clients 100 --fraction 0.1 --rounds "$rounds" --model mlp \
      --partition dirichlet --alpha 0.3 --local-epochs 5 --batch-size 10 --lr 0.05 \
      --seed "$seed" --eval-every 5 --runs-dir "$out" --compression $spec > "$out.log" 2>&1; then
      echo "$name, seed $seed: the simulation failed; its last lines:" >&2
      tail -n 5 "$out.log" >&2
      exit 1
    fi
    dirs+=("$out"/*)
  done
  AT="${at[*]}" python3 - "$name" "$spec" "${dirs[@]}" <<'PY'
import json, os, sys
name, spec, *runs = sys.argv[1:]
at = [int(round) for round in os.environ["AT"].split()]
up = dense = 0.0
accuracies = {round: [] for round in at}
for run in runs:
    rounds = [json.loads(line) for line in open(f"{run}/metrics.jsonl") if line.strip()]
    up += sum(r["bytes_up"] for r in rounds) / len(rounds) / len(runs)
    dense += sum(r.get("bytes_up_uncompressed", r["bytes_up"]) for r in rounds) / len(rounds) / len(runs)
    for round in at:
        accuracies[round].append(next(r["test_accuracy"] for r in rounds if r["round"] == round) * 100)
cells = []
for round in at:
    values = accuracies[round]
    spread = f" [{min(values):.2f}, {max(values):.2f}]" if len(values) > 1 else ""
    cells.append(f"{sum(values) / len(values):.2f}%{spread}")
print(f"| {name} | `{spec}` | {up / 1024:,.1f} KiB | {dense / up:.1f}x | " + " | ".join(cells) + " |")
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
