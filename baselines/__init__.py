"""Recurrent baselines for the seqtasks tasks (Keras 3 on TensorFlow)."""
