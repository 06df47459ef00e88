"""Recurrent networks: backpropagation through time, step by step (kind: rnn, docs/rnn.md)."""
