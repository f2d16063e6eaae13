"""`smpsim validate`: the model held against reference figures, one contract for every kind of case.

    smpsim validate [--format table|json] [--set KEY=VALUE ...] [--costs PROFILE] [--case NAME ...]
                    [--trace FILE ...]

Each case measures one figure with the model's own code and compares it with a reference;
it passes when simulated / reference lies in its band. JSON output is
`{"cases": [{"name", "kind", "source", "reference", "simulated", "ratio", "band", "unit",
"pass", "note"}]}`; exit 0 when every case passes, 1 when one leaves its band, 2 on bad input.
`--set` takes `costs.X=` (or a bare cost), `policy.X=` (a switch of the preset a case
simulates, so a mechanism can be switched off and its cases seen to fail) and `machine.ghz=`;
`--costs` a cost profile's costs and clock, under --set's; a profile written by `smpsim calibrate`
also brings its held-out measurements as cases of kind "profile", which are then what runs
unless `--case` names others (smpsim.experiments.calibration.heldout).

Modules: `contract` (Setup, Case, Result and the registry), `model` (the measurements),
`published` (the cases of kind "published"), `trace` (--trace: a recorded program's cases), `allocators` (the page allocators' cases), `overrides` (--set), `output` (table, JSON).

Adding a case is one function, in a module imported below:

    @case("my_case", "profile", "where the reference comes from", band=(0.8, 1.25))
    def my_case(s: Setup):
        return reference, simulated      # s.costs, s.policy(preset), s.cycles(ns) to hand

Cases built at run time (one per measurement of a profile, say) go through `register(Case(...))`.
"""

from smpsim.experiments.validate import published  # noqa: F401  (registers its cases)
from smpsim.experiments.validate import allocators  # noqa: F401  (registers its cases)
from smpsim.experiments.validate import flush_rules  # noqa: F401  (registers its cases)
from smpsim.experiments.validate import linux  # noqa: F401  (registers its cases)
from smpsim.experiments.validate import fork  # noqa: F401  (registers its cases)
from smpsim.experiments.validate import unmap  # noqa: F401  (registers its cases)
from smpsim.experiments.validate import invlpgb  # noqa: F401  (registers its cases)
from smpsim.experiments.validate.contract import CASES, Case, Result, Setup, case, register, run, select
from smpsim.experiments.validate.output import as_json, table
from smpsim.experiments.validate.trace import recording_profile, trace_cases
from smpsim.experiments.validate.overrides import case_pool, profile_at, setup_from

__all__ = ["CASES", "Case", "Result", "Setup", "case", "register", "run", "select", "as_json", "table",
           "setup_from", "case_pool", "profile_at", "trace_cases", "recording_profile"]
