#!/usr/bin/env bash
# Side-by-side training speed and accuracy on digits: host-cli and the
# reference peers (scikit-learn, numpy, PyTorch) at the same configuration, in
# one run on one machine (the peers initialise with Glorot uniform, so host-cli
# does too here), so the ratios are meaningful even when absolute times
# drift. Not part of the tests. Needs the peers' Python packages:
#   pip install -r ../shared/peers/requirements.txt   (and torch, optional)
# Usage: scripts/bench-peers.sh [REPEATS] [PEERS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
peers=${2:-../shared/peers}
config=(--hidden 32 --epochs 100 --batch-size 32 --lr 0.1 --momentum 0.9 --l2 1e-4 --seed 0)

cargo build --release -q -p host-cli
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for unit in baseline detected; do
    for _ in $(seq "$repeats"); do
        if [ "$unit" = baseline ]; then
            MLP_VECTOR_UNIT=baseline target/release/host-cli train digits --activation relu --init glorot-uniform "${config[@]}" --json
        else
            target/release/host-cli train digits --activation relu --init glorot-uniform "${config[@]}" --json
        fi | tail -n 1 >>"$out"
    done
done
python3 "$peers/peers.py" digits "${config[@]}" --repeats "$repeats" >>"$out"

python3 - "$out" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "skipped" in r:
        print(f"{r['peer']}: skipped ({r['skipped']})")
        continue
    name = r.get("peer") or f"host-cli ({r['vector_unit']})"
    rows.setdefault(name, []).append(r)
fastest_peer = min((statistics.median(x["train_seconds"] for x in v), k)
                   for k, v in rows.items() if not k.startswith("host-cli"))
print(f"| implementation | test accuracy | train seconds (median of {len(next(iter(rows.values())))}) | vs {fastest_peer[1]} |")
print("|---|---|---|---|")
for name, runs in rows.items():
    t = statistics.median(r["train_seconds"] for r in runs)
    acc = statistics.median(r["test_accuracy"] for r in runs)
    print(f"| {name} | {acc:.4f} | {t:.4f} | {fastest_peer[0] / t:.1f}x faster |" if t < fastest_peer[0]
          else f"| {name} | {acc:.4f} | {t:.4f} | {t / fastest_peer[0]:.1f}x slower |" if t > fastest_peer[0]
          else f"| {name} | {acc:.4f} | {t:.4f} | 1.0x |")
PY
