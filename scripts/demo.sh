#!/usr/bin/env bash
# make demo: start the fake cloud, mount infrafs on it, show a short tour,
# and clean up on exit or Ctrl-C. Waits for Enter when run from a terminal.
set -euo pipefail

infrafs=${1:-build/src/infrafs}
python=/usr/bin/python3
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/infrafs-demo.XXXXXX)
mnt=$work/mnt
cloud_pid=""
daemon_pid=""

cleanup() {
	set +e
	if mountpoint -q "$mnt" 2>/dev/null; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
	fi
	[ -n "$daemon_pid" ] && wait "$daemon_pid" 2>/dev/null
	[ -n "$cloud_pid" ] && kill "$cloud_pid" 2>/dev/null && wait "$cloud_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait for a condition with a deadline, not for a fixed time.
wait_for() {
	local what=$1 deadline=$((SECONDS + 15))
	shift
	until "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			echo "demo: timed out waiting for $what" >&2
			exit 1
		fi
		sleep 0.05
	done
}

show() {
	printf '\n\033[1m$ %s\033[0m\n' "$*"
	(cd "$mnt" && bash -c "$*")
}

mkdir -p "$mnt"
(cd "$top" && exec $python -m tests.fakecloud --port 0 --hosts 48 --openrc "$work/openrc") \
	>"$work/cloud.out" 2>"$work/cloud.err" &
cloud_pid=$!
wait_for "the fake cloud" grep -q "listening on" "$work/cloud.out"
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/cloud.out")

# shellcheck disable=SC1091
. "$work/openrc"
"$infrafs" -f "$mnt" 2>"$work/infrafs.log" &
daemon_pid=$!
wait_for "the mount" grep -q " $mnt fuse.infrafs " /proc/self/mounts

echo "infrafs demo: a fake cloud of 48 GPU hosts at $url, mounted on $mnt"
show 'ls'
show 'ls hosts | head -5'
show 'cat hosts/CA1-h100sxm-node01/gpu_type hosts/CA1-esc8-1/gpu_type'
show 'for h in $(cat aggregates/GPU-A100/hosts); do echo "$h $(cat hosts/$h/state) $(cat hosts/$h/gpu_type)"; done | head -4'
show "jq -r '.[] | \"\\(.name)\\t\\(.hosts | length) hosts\\t\\(.metadata.gpu_type // \"-\")\"' aggregates.json"
show 'cat quotas/ml-research/compute'
show 'cat .infrafs/stats'
echo
echo "# An administrator adds a host to an aggregate with the real API ..."
token=$(curl -sf -D - -o /dev/null -H 'Content-Type: application/json' \
	-d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$OS_USERNAME\",\"domain\":{\"name\":\"Default\"},\"password\":\"$OS_PASSWORD\"}}},\"scope\":{\"project\":{\"name\":\"$OS_PROJECT_NAME\",\"domain\":{\"name\":\"Default\"}}}}}" \
	"$OS_AUTH_URL/auth/tokens" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p')
agg_id=$(jq -r '.[] | select(.name == "maintenance") | .id' "$mnt/aggregates.json")
curl -sf -o /dev/null -H "X-Auth-Token: $token" -H 'Content-Type: application/json' \
	-d '{"add_host":{"host":"CA1-l40-node02"}}' "$url/compute/v2.1/os-aggregates/$agg_id/action"
show 'cat aggregates/maintenance/hosts    # still the cached copy'
show "echo aggregates > .infrafs/invalidate && cat aggregates/maintenance/hosts"
show 'cat hosts/CA1-l40-node02/aggregates'
show 'cat .infrafs/stats'

if [ -t 0 ]; then
	echo
	echo "The mount stays up at $mnt (try it from another shell). Press Enter to unmount."
	read -r _
fi
