#!/bin/sh
# Build flush_range, trace tlb:tlb_flush while it runs, print what each madvise / munmap flushed.
# Usage (root): measure/run_flush_range.sh [madvise|munmap]
set -e
cd "$(dirname "$0")"
cc -O2 -pthread -o /tmp/flush_range flush_range.c
T=/sys/kernel/tracing
echo 0 > $T/tracing_on
echo > $T/trace
echo 1 > $T/events/tlb/tlb_flush/enable
echo 1 > $T/tracing_on
/tmp/flush_range "${1:-madvise}"
echo 0 > $T/tracing_on
echo 0 > $T/events/tlb/tlb_flush/enable
grep -v '^#' $T/trace | awk '/flush_range begin/ {on=1; print; next} /flush_range end/ {on=0; print; next} on && /tlb_flush/ {print}'
