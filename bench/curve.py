"""Print a run's test-accuracy curve from runs/<run-id>/metrics.jsonl.

Usage: python3 bench/curve.py RUN_DIR [ROUND ...]
Without rounds, prints every evaluated round.
"""

import json
import sys


def main():
    run_dir = sys.argv[1]
    wanted = {int(r) for r in sys.argv[2:]}
    with open(f"{run_dir}/metrics.jsonl") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    print("| round | test accuracy | train loss | wall time (s) |")
    print("|---|---|---|---|")
    for row in rows:
        if wanted and row["round"] not in wanted:
            continue
        acc = row.get("test_accuracy")
        loss = row.get("train_loss")
        acc_text = f"{acc * 100:.2f}%" if acc is not None else "n/a"
        loss_text = f"{loss:.4f}" if loss is not None else "n/a"
        print(f"| {row['round']} | {acc_text} | {loss_text} | {row['wall_time_s']:.1f} |")


if __name__ == "__main__":
    main()
