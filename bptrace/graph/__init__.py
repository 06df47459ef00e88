"""Computational graphs: backpropagation through any expression, gate by gate (kind: graph)."""
