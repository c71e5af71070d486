"""Loaders for the data the examples use."""
