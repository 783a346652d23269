#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz/ (docs/testing.md, "Fuzzing").
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
#
# For each target: first every input in tests/fuzz/crashes/TARGET/ and
# tests/fuzz/corpus/TARGET/, once each (regressions: each must run clean;
# a target that fails one is not fuzzed, as there is a bug to fix first),
# then SECONDS of fuzzing (-max_total_time) from a scratch copy of its seed
# corpus, so that the committed corpus never grows. SECONDS=0 runs the
# inputs only. Prints the executions of each target (libFuzzer's
# stat::number_of_executed_units) and exits non-zero if any target failed;
# a failure's report and reproducer are kept in BUILD_DIR/fuzz-runs/TARGET/.
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILD_DIR SECONDS TARGET..." >&2
	exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

# Leaks count; undefined behaviour stops the run (the targets are built
# with -fno-sanitize-recover=undefined as well).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=()
summary=()
for target in "$@"; do
	exe="$build/tests/fuzz/fuzz_$target"
	if [ ! -x "$exe" ]; then
		echo "fuzz: $exe is missing (ninja -C $build fuzz)" >&2
		exit 2
	fi
	runs="$build/fuzz-runs/$target"
	rm -rf "$runs"
	mkdir -p "$runs/corpus" "$runs/artifacts"
	dict=()
	[ -f "$here/$target.dict" ] && dict=("-dict=$here/$target.dict")

	# Regressions: each crash found so far on its own, then the seeds at once.
	bad=()
	n_inputs=0
	if [ -d "$here/crashes/$target" ]; then
		while IFS= read -r -d '' file; do
			n_inputs=$((n_inputs + 1))
			log="$runs/regression-$(basename "$file").log"
			if "$exe" -runs=1 "$file" >"$log" 2>&1; then
				rm -f "$log"
				continue
			fi
			bad+=("$file")
			echo "fuzz_$target: FAILED on ${file#"$here/"}:" >&2
			grep -E 'ERROR: |runtime error: |property broken: |^    #[0-3] ' "$log" |
				head -n 6 >&2 || true
			echo "fuzz_$target: full log: $log" >&2
		done < <(find "$here/crashes/$target" -maxdepth 1 -type f -print0 | sort -z)
	fi
	if [ ${#bad[@]} -eq 0 ] && [ -d "$here/corpus/$target" ]; then
		seeds=("$here/corpus/$target"/*)
		n_inputs=$((n_inputs + ${#seeds[@]}))
		if ! "$exe" -runs=1 "${seeds[@]}" >"$runs/seeds.log" 2>&1; then
			bad+=("a seed")
			echo "fuzz_$target: FAILED on a seed:" >&2
			grep -E '^Running: ' "$runs/seeds.log" | tail -n 1 >&2 || true
			grep -E 'ERROR: |runtime error: |property broken: |^    #[0-3] ' \
				"$runs/seeds.log" | head -n 6 >&2 || true
			echo "fuzz_$target: full log: $runs/seeds.log" >&2
		fi
	fi
	if [ ${#bad[@]} -gt 0 ]; then
		failed+=("$target")
		summary+=("fuzz_$target: FAILED on ${#bad[@]} saved input(s), not fuzzed")
		continue
	fi
	if [ "$seconds" -eq 0 ]; then
		summary+=("fuzz_$target: $n_inputs saved inputs ok")
		continue
	fi

	[ -d "$here/corpus/$target" ] && cp "$here/corpus/$target"/* "$runs/corpus/"
	status=0
	"$exe" "${dict[@]}" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
		-artifact_prefix="$runs/artifacts/" "$runs/corpus" >"$runs/fuzz.log" 2>&1 ||
		status=$?
	executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$runs/fuzz.log" | tail -n 1)
	if [ "$status" -ne 0 ]; then
		echo "fuzz_$target: FAILED after ${executions:-?} executions (exit $status):" >&2
		grep -E 'ERROR: |runtime error: |property broken: |^    #[0-3] |Test unit written' \
			"$runs/fuzz.log" | head -n 12 >&2 || true
		echo "fuzz_$target: full log: $runs/fuzz.log; reproducer: $runs/artifacts/;" \
			"once fixed, keep it as tests/fuzz/crashes/$target/<what-it-is>" >&2
		failed+=("$target")
		summary+=("fuzz_$target: FAILED after ${executions:-?} executions")
		continue
	fi
	summary+=("fuzz_$target: ${executions:-?} executions in ${seconds} s, $n_inputs saved inputs ok")
done

printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failed: ${failed[*]}" >&2
	exit 1
fi
