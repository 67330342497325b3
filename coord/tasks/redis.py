"""Placeholder: the redis collection is being built."""

from invoke import Collection

collection = Collection("redis")
top_level: list = []
