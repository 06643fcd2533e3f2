"""Controls: pure functions from one account's `Evidence` and the run's settings to a `Verdict`."""
