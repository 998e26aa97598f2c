"""Span-based Proof of Attribution for language models: a suffix-array index over a snapshot's tokens,
maximal verbatim spans of a model's output, and credit to the contributors whose documents hold them."""
