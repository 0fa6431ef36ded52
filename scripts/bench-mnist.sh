#!/usr/bin/env bash
# MNIST side by side: host-cli and the reference peers (scikit-learn, numpy,
# PyTorch) at the same configuration, in one run on one machine, so that the
# ratios hold even when absolute times drift. Training on one thread and on
# every core, inference throughput on the test set (one thread and every
# core), and host-cli's peak resident memory. Not part of the tests. Needs the
# peers' Python packages (pip install -r ../shared/peers/requirements.txt).
# Usage: scripts/bench-mnist.sh [REPEATS] [MNIST_DIR] [PEERS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
data=${2:-../shared/data/mnist}
peers=${3:-../shared/peers}
# The peers' configuration: a constant rate (mnist's own default anneals it)
# and Glorot-uniform initialisation for one row, as the peers initialise.
config=(--hidden 128 --epochs 10 --batch-size 32 --lr 0.05 --momentum 0.9 --l2 1e-4 --seed 0)

cargo build --release -q -p host-cli --bin host-cli --example mnist
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# host_cli LABEL [EXTRA FLAGS...]: one training run, one JSON line.
host_cli() {
    local label=$1
    shift
    /usr/bin/time -f '%M' -o "$out.rss" target/release/host-cli train mnist --data "$data" "${config[@]}" \
        --schedule constant --json "$@" |
        python3 -c 'import json, sys; r = json.load(sys.stdin); r["peer"] = sys.argv[1]
r["peak_rss_mib"] = int(open(sys.argv[2]).read().split()[-1]) / 1024; print(json.dumps(r))' "$label" "$out.rss" >>"$out"
}
host_rounds() {
    for _ in $(seq "$1"); do
        host_cli "host-cli, 1 thread" --threads 1
        host_cli "host-cli, 1 thread, --initializer glorot-uniform" --threads 1 --initializer glorot-uniform
        host_cli "host-cli, every core" 
    done
}
host_rounds $((repeats / 2))
python3 "$peers/peers.py" idx "$data" "${config[@]}" --repeats "$repeats" >>"$out"
host_rounds $((repeats - repeats / 2))
# Inference throughput of the trained network (the example trains, then times the test set).
target/release/examples/mnist --data "$data" --epochs 1 |
    python3 -c 'import json, sys; r = json.loads(sys.stdin.read().splitlines()[-1]); print(json.dumps({"peer": "host-cli inference", **r}))' >>"$out"

python3 - "$out" "$repeats" <<'PY'
import json, statistics, sys
rows, infer = {}, None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "skipped" in r:
        print(f"{r['peer']}: skipped ({r['skipped']})")
    elif r["peer"] == "host-cli inference":
        infer = r
    else:
        rows.setdefault(r["peer"], []).append(r)
median = lambda runs, key: statistics.median(r[key] for r in runs)
epoch = lambda runs: median(runs, "train_seconds") / runs[0]["epochs"]
peers = {k: epoch(v) for k, v in rows.items() if not k.startswith("host-cli")}
fastest = min(peers, key=peers.get)
# Dense-equivalent work per sample: forward 784x128 + 128x10 multiply-adds, backward the
# output layer's gradient and deltas and the first layer's gradient (2 flops a multiply-add).
flops = 2 * (2 * 784 * 128 + 3 * 128 * 10) * 60000
print(f"| implementation | test accuracy | s per epoch (median of {sys.argv[2]}) | vs {fastest} | dense-equivalent GFLOP/s | peak RSS |")
print("|---|---|---|---|---|---|")
for name, runs in rows.items():
    t = epoch(runs)
    rss = f"{median(runs, 'peak_rss_mib'):.0f} MiB" if "peak_rss_mib" in runs[0] else ""
    print(f"| {name} | {median(runs, 'test_accuracy'):.4f} | {t:.3f} | {peers[fastest] / t:.2f}x | {flops / t / 1e9:.1f} | {rss} |")
print()
print("| inference on the 10 000 test images | samples/s |")
print("|---|---|")
for name, runs in rows.items():
    if "infer_samples_per_second" in runs[0]:
        print(f"| {name} (one thread) | {median(runs, 'infer_samples_per_second'):,.0f} |")
if infer:
    print(f"| host-cli, one thread | {infer['infer_samples_per_second_one_thread']:,.0f} |")
    print(f"| host-cli, {infer['threads']} threads | {infer['infer_samples_per_second']:,.0f} |")
PY
