"""Landmark tables poseclf produced itself (installed as ``poseclf.shipped_datasets``)."""
