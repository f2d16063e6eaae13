"""Calibration to a user's machine, the model's side: the model's own figure for each
microbenchmark `smpsim calibrate` runs (`probes`), the fit of cost entries from a stated subset of
the measurements (`fit`), and the held-out measurements as `validate` cases of kind "profile"
(`heldout`). The measuring itself is smpsim.calibrate's; the profile file is smpsim's profile
module's."""
