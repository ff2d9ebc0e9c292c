"""Tests of citysentinel.models: manifest, install steps, registry, cards."""
