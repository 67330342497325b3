"""Jinja2 templates that `coord init` renders into a repository (shipped as coord.templates)."""
