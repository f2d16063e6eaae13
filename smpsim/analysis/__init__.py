"""Analysis of run directories: loading, statistics, tables, plots and reports.

Nothing here reruns a simulation or imports Ray; commands read what
``smpsim run`` wrote (docs/rundir.md). Entry points are in :mod:`.commands`.
"""
