"""Synthesis of whole overlay exchanges, driven by the reference models."""
