"""Specs compiled into networks: accounting, blocks, the two backends and the from-scratch layers."""
