"""The modelled kernel VM layer (plain, deterministic Python; never imports ray, time or random)."""
