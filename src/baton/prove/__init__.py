"""Proof of delivery (issue 9): ePOD capture, completion requirements, tamper-evident chain of custody,
failed-delivery next steps, damage claims, carrier POD normalisation and compliance.

Domain-pure modules (no I/O): :mod:`.model`, :mod:`.custody`, :mod:`.requirements`, :mod:`.claims`,
:mod:`.carrier_pod`. Storage: :mod:`.records` (tables in :mod:`baton.adapters.orm_prove`); media bytes
in an :class:`baton.adapters.objectstore.ObjectStore`. Commands and handlers:
:mod:`baton.service_layer.prove_handlers`; HTTP: :mod:`baton.entrypoints.api_driver`.
"""
