#!/usr/bin/env bash
# Training speed of the app in a real terminal against the headless engine, alternating.
#
# `python -m benchmarks.bench` times the app under headless Textual, which renders every frame
# but writes nothing to a terminal. This runs the real `mlp-tui` in a 120x40 tmux pane (its own
# tmux server, so no session of yours is touched) for EPOCHS epochs with --metrics-out, then
# `mlp-tui --headless` for as many, ROUNDS times, and prints each round's median epoch (the
# first epoch of each run left out) and their ratio.
#
#     bash benchmarks/real_terminal.sh [ROUNDS] [EPOCHS]     (default 5 rounds of 6 epochs)
set -euo pipefail
rounds=${1:-5}
epochs=${2:-6}
exe=${MLP_TUI:-mlp-tui}
python=${PYTHON:-python3}
work=$(mktemp -d)
sock="mlp-tui-bench-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
for round in $(seq 1 "$rounds"); do
    app="$work/app-$round.jsonl"
    tmux -L "$sock" new-session -d -x 120 -y 40 \
        "$exe --epochs $epochs --save-dir $work/saves --metrics-out $app"
    until [ "$(cat "$app" 2>/dev/null | wc -l)" -ge "$epochs" ]; do sleep 0.2; done
    tmux -L "$sock" kill-server
    "$exe" --headless --epochs "$epochs" --metrics-out "$work/headless-$round.jsonl" >/dev/null
done
"$python" - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def median_epoch(path):
    seconds = [json.loads(line)["seconds"] for line in open(path)]
    return statistics.median(seconds[1:])
ratios = []
for r in range(1, rounds + 1):
    app, headless = median_epoch(f"{work}/app-{r}.jsonl"), median_epoch(f"{work}/headless-{r}.jsonl")
    ratios.append(app / headless)
    print(f"round {r}: app in tmux {app:.3f} s/epoch, headless {headless:.3f} s/epoch, {ratios[-1]:.2f}x")
print(f"median app/headless {statistics.median(ratios):.2f}x over {rounds} rounds")
PY
