"""Placeholder: the session collection is being built."""

from invoke import Collection

collection = Collection("session")
top_level: list = []
