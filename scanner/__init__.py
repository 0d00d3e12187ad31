"""logsigma: run Sigma rules offline over a copied Linux /var/log.

The flow runs one way: ``sources`` (walk, open, binary records) → ``normalize``
(grammars → events with a Sigma logsource) → ``match`` (pySigma backend →
generated matchers) → ``correlate`` → ``report``. ``model`` and ``errors`` are
shared by every stage.
"""

__version__ = "0.1.0"
