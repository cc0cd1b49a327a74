#!/bin/bash
# gcprobe.sh: the collector's cost and the resident memory of one proxy under
# the playlist load, as the harness sets it up (origin and proxy on CPU 1 with
# one processor, wrk on CPU 0, 32 connections, 10,000 users of up to three
# sessions). Prints the rate, the resident memory after the load, the number
# of collections in the measured 6 s, their mean CPU (GODEBUG=gctrace=1:
# marking and pauses) and the mean heap live after them.
#
# usage: bench/gcprobe.sh streamgate|reference [VAR=value ...]
#   e.g. bench/gcprobe.sh streamgate GOGC=100
# BENCH_USERS overrides the 10,000 users. Ports 19000 and 19001 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: bench/gcprobe.sh streamgate|reference [VAR=value ...]}
shift
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w" -o "$dir/origin" ./bench/origin
case $target in
streamgate)
	go build -trimpath -ldflags "-s -w" -o "$dir/proxy" ./cmd/streamgate
	args=(-listen 127.0.0.1:19001 -admin-listen 127.0.0.1:19002 -upstream http://127.0.0.1:19000 -log-level warn -access-log off)
	;;
reference)
	go build -trimpath -ldflags "-s -w" -o "$dir/proxy" ./bench/reference
	args=(-listen 127.0.0.1:19001 -upstream http://127.0.0.1:19000)
	;;
*) echo "unknown target $target" >&2; exit 2 ;;
esac
taskset -c 1 "$dir/origin" -listen 127.0.0.1:19000 >/dev/null 2>&1 &
env GOMAXPROCS=1 GODEBUG=gctrace=1 "$@" taskset -c 1 "$dir/proxy" "${args[@]}" 2>"$dir/gc.log" >/dev/null &
proxy=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:19001/ && break; sleep 0.1; done
load() { BENCH_USERS=${BENCH_USERS:-10000} taskset -c 0 wrk -t1 -c32 -d"$1" -s bench/users.lua http://127.0.0.1:19001/live/playlist.m3u8; }
load 4s >/dev/null # warm: every user's sessions started
: >"$dir/gc.log"
rate=$(load 6s | awk '/Requests\/sec/{print $2}')
rss=$(awk '/VmRSS/{print $2}' "/proc/$proxy/status")
awk -v rate="$rate" -v rss="$rss" '
/^gc / {
	n++
	cpu = $0; sub(/ ms cpu.*/, "", cpu); sub(/.*clock, /, "", cpu)
	k = split(cpu, parts, /[+\/]/); for (i = 1; i <= k; i++) total += parts[i]
	match($0, /[0-9]+->[0-9]+->[0-9]+ MB/); split(substr($0, RSTART, RLENGTH), h, "->"); live += h[3]
}
END {
	if (n == 0) { printf "rate %s/s rss %.1f MiB, no collection\n", rate, rss / 1024; exit }
	printf "rate %s/s rss %.1f MiB cycles %d cpu/cycle %.2f ms live %.1f MB collector/request %.2f us\n",
		rate, rss / 1024, n, total / n, live / n, total * 1000 / (rate * 6)
}' "$dir/gc.log"
