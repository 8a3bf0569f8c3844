"""gitops-master: offline snapshot analyzer for Kargo and Argo CD pipelines.

Data flows one way: bundle -> frames -> findings -> report.
"""

__version__ = "0.1.0"
