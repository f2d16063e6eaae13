"""The run-directory format (docs/rundir.md), below everything that writes or reads one: safe and
durable file I/O (`safeio`), the files of a run and their writers (`files`), and the checks a
reader applies to what it loads (`entries`). Experiments write run directories and analysis reads
them; both import this package, neither imports the other."""
