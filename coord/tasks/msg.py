"""Placeholder: the msg collection is being built."""

from invoke import Collection

collection = Collection("msg")
top_level: list = []
