"""The playbook's other modes, answered from the same frames as diagnose.

* :mod:`analyzer.modes.verify`: the 4-level verification (V1-V4) per Stage;
* :mod:`analyzer.modes.promote`: may this Freight be promoted now (P1-P4);
* :mod:`analyzer.modes.architecture`: the pipeline graph (S1);
* :mod:`analyzer.modes.lint`: the setup lint report (S2, S4, anti-patterns);
* :mod:`analyzer.modes.ask`: which mode a plain-language request belongs to.

Each builds a context dataclass (everything a template shows, computed);
:mod:`analyzer.modes.output` renders it. Words live in ``texts.yaml``, the way
finding text lives in the catalog.
"""
