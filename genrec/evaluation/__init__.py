"""Evaluation: metrics, the full-ranking protocol, significance tests and result tables."""
