#!/usr/bin/env bash
# Watch hypervisors: print the hosts that are not "up enabled", then one
# timestamped line whenever a host's state or status changes.
#
#   usage: watch-hosts.sh [MOUNT [INTERVAL_S [ROUNDS]]]
#   watch-hosts.sh ~/cloud 15          # until Ctrl-C
#
# Reading hosts.json costs nothing while the cached copy is fresh: infrafs
# fetches the hypervisor list at most once per hosts TTL (60 s by default),
# however many loops like this one read it. A read past the TTL gets the
# cached copy at once and refreshes it in the background (grace window), so
# a change shows up at most one TTL plus two intervals late. For a shorter
# delay, mount with -o ttl.hosts=N; with -o grace.hosts=0 that read waits
# for the new list instead. ROUNDS=0 (the default) means forever.
set -euo pipefail

mnt=${1:-$HOME/cloud}
interval=${2:-30}
rounds=${3:-0}

snapshot() {
	jq -r '.[] | "\(.hypervisor_hostname) \(.state) \(.status)"' "$mnt/hosts.json" | sort
}

previous=$(snapshot)
echo "# $(date +%T) hosts not up/enabled:"
grep -v ' up enabled$' <<<"$previous" || true

round=1
while [ "$rounds" -eq 0 ] || [ "$round" -lt "$rounds" ]; do
	sleep "$interval"
	current=$(snapshot)
	# Lines of the new snapshot that were not in the old one: changed hosts.
	comm -13 <(echo "$previous") <(echo "$current") | sed "s/^/$(date +%T) /"
	previous=$current
	round=$((round + 1))
done
