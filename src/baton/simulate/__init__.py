"""The day simulator: a discrete-event simulation of a delivery day that drives Baton only
through its service layer (see :mod:`baton.simulate.engine`), with disruption scenarios in YAML
(:mod:`baton.simulate.scenario`; the standard one is ``standard.yaml`` in this package)."""
