"""Placeholder: the agent collection is being built."""

from invoke import Collection

collection = Collection("agent")
top_level: list = []
