"""Patron: customer intelligence from transaction history.

Layers (data flows one way): io -> features -> models -> explain -> services -> (cli | api | dashboard | report),
with every persistent artefact behind :class:`patron.storage.Repository`.
"""

__version__ = "0.1.0"
