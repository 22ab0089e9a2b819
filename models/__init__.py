"""Trained poseclf models shipped with the project (installed as ``poseclf.shipped_models``)."""
