"""Recorded programs: `smpsim trace record` runs a command under `perf record`, `trace import`
turns `perf script` text (or a perf.data file) into smpsim's own trace file, `trace info`
summarises one. docs/trace.md documents the file format and what each count means.

Nothing here imports the model, the runtime or ray: a trace is data the trace workload replays.
"""
