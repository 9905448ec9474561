"""Presenting decoded packets: display filters and the views built on them."""
