# Conveniences for people who have `just`; every recipe is a plain cargo command.
set shell := ["bash", "-euo", "pipefail", "-c"]

# list recipes
default:
    @just --list --unsorted

# all tests (the README's test command)
test:
    cargo test --workspace --release

# formatting and lints, as CI checks them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# run a scenario and write its report under reports/<name>/
run scenario="scenarios/paper-table1.yaml" *args="":
    cargo run --release -- run {{scenario}} {{args}}

# run every shipped scenario; calibrated ones share one calibration table (room-size-sweep stops
# at 512 members: its 2,048-member point alone takes over half an hour)
run-all:
    cargo run --release -- calibrate --out reports/calibration.json
    for f in scenarios/*.yaml; do \
        if grep -q '^cost_model: measured' "$f"; then cargo run --release -- run "$f"; \
        elif [ "$(basename "$f")" = room-size-sweep.yaml ]; then cargo run --release -- run "$f" --calibration reports/calibration.json --set 'sweep={"org.rooms[0].size": [8, 32, 128, 512]}'; \
        else cargo run --release -- run "$f" --calibration reports/calibration.json; fi; \
    done

# two reports side by side (directories or summary.json), failing above a slowdown in percent
compare a b pct="20":
    cargo run --release -- compare {{a}} {{b}} --fail-above {{pct}}

# regenerate the committed reference reports (minutes; history-reencrypt about fifteen)
reference:
    cargo run --release -- run scenarios/paper-table1.yaml --out reports/reference/paper-table1
    cargo run --release -- run scenarios/history-reencrypt.yaml --out reports/reference/history-reencrypt
    cargo run --release -- run scenarios/room-size-sweep.yaml --set 'sweep={"org.rooms[0].size": [8, 32, 128, 512]}' --calibration sim/tests/fixtures/calibration-full.json --out reports/reference/room-size-sweep

# re-keying cost against stored history, every history scheme (one-shot table)
reencrypt-table *sizes="":
    cargo run --release -p conclave-benches --example reencrypt_table -- {{sizes}}

# show a report's Table 1 and security findings
report name="paper-table1":
    cat reports/{{name}}/table1.md reports/{{name}}/security.md

# criterion benches (all, or one: just bench engine)
bench target="":
    cargo bench -p conclave-benches {{ if target == "" { "" } else { "--bench " + target } }}

# the regression gate: instruction counts and bytes against benches/baseline/gate.json (needs
# valgrind and gungraun-runner 0.20.0; pass --write to record a new baseline)
regress *args="":
    cargo run --release -p conclave-benches --bin regress -- {{args}}

# measure this machine's calibration table
calibrate out="reports/calibration.json":
    cargo run --release -- calibrate --out {{out}}

# everything CI runs
ci:
    bash .ci/run
