#!/bin/sh
# List hypervisors by GPU type, one "<gpu_type> <host>" line each, sorted.
#
#   usage: hosts-by-gpu-type.sh [MOUNT [GPU_TYPE]]
#   hosts-by-gpu-type.sh ~/cloud H100-SXM5
#
# gpu_type comes from hostname rules first (no backend call at all), then
# from the gpu_type metadata of the host's aggregates (one cached fetch of
# the aggregate list). An empty gpu_type file means "unknown".
set -eu

mnt=${1:-$HOME/cloud}
want=${2:-}

for dir in "$mnt"/hosts/*; do
	[ -d "$dir" ] || continue
	host=${dir##*/}
	type=$(cat "$dir/gpu_type")
	[ -n "$type" ] || type=unknown
	if [ -z "$want" ] || [ "$type" = "$want" ]; then
		printf '%s\t%s\n' "$type" "$host"
	fi
done | sort
