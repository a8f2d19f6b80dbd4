# Sourced by tools/gpu_check.sh and tools/gpu_bundle_run.sh: `step NAME SECONDS COMMAND...` runs
# COMMAND under a time limit, goes on whatever happens, and records how it went in `results`,
# which the scripts print as their summary.
# shellcheck shell=bash
results=()
step() {
    # step NAME SECONDS COMMAND...: runs COMMAND under a time limit and records how it went
    local name=$1 limit=$2
    shift 2
    echo
    echo "== $name (at most ${limit} s)"
    local t0=$SECONDS
    timeout "$limit" "$@"
    local rc=$?
    local took=$((SECONDS - t0))
    case $rc in
        0) results+=("passed   $name (${took} s)") ;;
        124) results+=("TIMEOUT  $name (${limit} s)") ;;
        *) results+=("FAILED   $name (exit $rc, ${took} s)") ;;
    esac
    return $rc
}
