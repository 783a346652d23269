#!/bin/sh
# The hosts of one aggregate with their state, status and GPU type.
#
#   usage: aggregate-hosts.sh MOUNT AGGREGATE
#   aggregate-hosts.sh ~/cloud GPU-H100-SXM5
#
# AGGREGATE is the directory name under aggregates/ (as `ls` shows it).
# Aggregates list compute *service* hosts; hosts/<service host> finds the
# hypervisor even when its hypervisor_hostname is an FQDN.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 MOUNT AGGREGATE" >&2
	exit 2
fi
mnt=$1
aggregate=$2

printf '%-24s %-5s %-9s %s\n' HOST STATE STATUS GPU
while IFS= read -r host; do
	dir=$mnt/hosts/$host
	if [ -d "$dir" ]; then
		printf '%-24s %-5s %-9s %s\n' "$host" "$(cat "$dir/state")" \
			"$(cat "$dir/status")" "$(cat "$dir/gpu_type")"
	else
		printf '%-24s %s\n' "$host" "(no hypervisor of that name)"
	fi
done <"$mnt/aggregates/$aggregate/hosts"
