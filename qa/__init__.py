"""Extractive question answering over a collection of articles: verbatim, cited passages only."""

__version__ = "0.1.0"
