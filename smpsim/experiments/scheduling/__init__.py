"""Scheduling a run's simulations: sizing against the cluster (`capacity`, `estimate`), running up
to N at once (`scheduler`, `simulations`), and assembling each point from part files (`parts`,
`pointrun`)."""
