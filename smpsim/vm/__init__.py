"""The modelled kernel VM layer and its design strategies (plain, deterministic Python; never imports ray, time or random)."""
