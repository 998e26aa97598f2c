"""Gradient Proof of Attribution for classifiers: training on a snapshot, per-example gradients,
projection and curvature preconditioning into an index, and influence scores for a query."""
