#!/bin/sh
# Runs the fuzz targets one after another, each for SECONDS of wall time, at
# the lowest CPU priority, and appends one line of figures per target to
# $WORK/figures.tsv (executions, seconds, CPU seconds, crashes, corpus size).
#
#   fuzz/run.sh SECONDS [TARGET...]      (from the repository root)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain
# RUSTC_BOOTSTRAP=1 lets it pass its flags. New corpus entries go to
# $WORK/corpus/<target> (default WORK=/work/fuzz-work), crashes to
# $WORK/artifacts/<target>/; fuzz/seeds and fuzz/corpus are only read.
set -eu
SECONDS_EACH=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
WORK=${WORK:-/work/fuzz-work}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/fuzz-target}
export RUSTC_BOOTSTRAP=1
TARGETS=${*:-"manifest_csv manifest_ndjson manifest_parquet manifest_cp1252 job_toml policy_toml hts_export catair_responses"}
JOBS=${JOBS:-1}
mkdir -p "$WORK"
# Built once; the runs below call the binaries, so an edit elsewhere in the
# tree meanwhile does not start a rebuild. SKIP_BUILD=1 skips this step.
[ -n "${SKIP_BUILD:-}" ] || nice -n 19 cargo fuzz build -O -s none --target-dir "$CARGO_TARGET_DIR"
BIN="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
for t in $TARGETS; do
    case $t in
        hts_export) max_len=20000 ;;
        manifest_parquet) max_len=16384 ;;
        *) max_len=8192 ;;
    esac
    mkdir -p "$WORK/corpus/$t" "$WORK/artifacts/$t" fuzz/corpus/$t
    log="$WORK/$t.log"
    # -fork keeps going after a crash (each crash saved under artifacts/), so
    # one finding does not end the run; -ignore_* make that explicit.
    /usr/bin/time -f "%U %S" -o "$WORK/$t.time" nice -n 19 "$BIN/$t" \
        "$WORK/corpus/$t" "fuzz/seeds/$t" "fuzz/corpus/$t" \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
        -max_len=$max_len -artifact_prefix="$WORK/artifacts/$t/" \
        -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 >"$log" 2>&1 || true
    # Fork mode's status lines: "#EXECS: cov: ... crash: a/b/c time: Ns job: J".
    execs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    cpu=$(tail -n 1 "$WORK/$t.time" | awk '{print $1 + $2}')
    crashes=$(ls "$WORK/artifacts/$t" | grep -c '^crash-' || true)
    timeouts=$(ls "$WORK/artifacts/$t" | grep -c '^timeout-' || true)
    ooms=$(ls "$WORK/artifacts/$t" | grep -c '^oom-' || true)
    corpus=$(ls "$WORK/corpus/$t" | wc -l)
    printf '%s\t%s\texecs=%s\twall=%ss\tcpu=%ss\tcrashes=%s\ttimeouts=%s\tooms=%s\tcorpus=%s\n' \
        "$(date -u +%FT%TZ)" "$t" "$execs" "$SECONDS_EACH" "$cpu" "$crashes" "$timeouts" "$ooms" "$corpus" | tee -a "$WORK/figures.tsv"
done
