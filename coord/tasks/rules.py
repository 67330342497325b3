"""Placeholder: the rules collection is being built."""

from invoke import Collection

collection = Collection("rules")
top_level: list = []
