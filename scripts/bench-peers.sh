#!/usr/bin/env bash
# Side-by-side training speed and accuracy on digits: host-cli and the
# reference peers (scikit-learn, numpy, PyTorch) at the same configuration, in
# one run on one machine, so the ratios are meaningful even when absolute times
# drift. Not part of the tests. Needs the peers' Python packages:
#   pip install -r ../shared/peers/requirements.txt   (and torch, optional)
# Usage: scripts/bench-peers.sh [REPEATS] [PEERS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
peers=${2:-../shared/peers}
# The shared configuration. host-cli's own initialiser for ReLU is He uniform;
# the peers use Glorot uniform, so one host-cli row uses that too.
config=(--hidden 32 --epochs 100 --batch-size 32 --lr 0.1 --momentum 0.9 --l2 1e-4 --seed 0)

cargo build --release -q -p host-cli
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# host_cli LABEL VECTOR_UNIT [EXTRA FLAGS...]: one run, one JSON line.
host_cli() {
    local label=$1 unit=$2
    shift 2
    MLP_VECTOR_UNIT=$unit target/release/host-cli train digits --activation relu "${config[@]}" "$@" --json |
        tail -n 1 |
        python3 -c 'import json, sys; r = json.load(sys.stdin); r["peer"] = sys.argv[1]; print(json.dumps(r))' \
            "$label" >>"$out"
}
# host-cli's rows round-robin, half before and half after the peers, so that a
# machine that speeds up or slows down during the run affects every row alike.
# The peers run in one process with their own repeats, as they are meant to.
host_rounds() {
    for _ in $(seq "$1"); do
        host_cli "host-cli, baseline x86-64" baseline
        host_cli "host-cli, vector unit picked at run time" auto
        host_cli "host-cli, picked at run time, --initializer glorot-uniform" auto --initializer glorot-uniform
    done
}
host_rounds $((repeats / 2))
python3 "$peers/peers.py" digits "${config[@]}" --repeats "$repeats" >>"$out"
host_rounds $((repeats - repeats / 2))

python3 - "$out" "$repeats" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "skipped" in r:
        print(f"{r['peer']}: skipped ({r['skipped']})")
        continue
    name = r["peer"] + (f" ({r['vector_unit']})" if "vector_unit" in r else "")
    rows.setdefault(name, []).append(r)
peer_times = {k: statistics.median(r["train_seconds"] for r in v) for k, v in rows.items() if "host-cli" not in k}
fastest = min(peer_times, key=peer_times.get)
print(f"| implementation | test accuracy | train seconds (median of {sys.argv[2]}) | vs {fastest} (fastest peer) |")
print("|---|---|---|---|")
for name, runs in rows.items():
    t = statistics.median(r["train_seconds"] for r in runs)
    acc = statistics.median(r["test_accuracy"] for r in runs)
    ratio = peer_times[fastest] / t
    versus = "reference" if name == fastest else f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
    print(f"| {name} | {acc:.4f} | {t:.4f} | {versus} |")
PY
