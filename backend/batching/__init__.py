"""Prompt templates run over tables of values across models (issue 19): the pure parts.

variables.py reads and fills ``{{name}}`` placeholders, tables.py reads a pasted or uploaded
CSV into rows, assertions.py checks each answer; none of them touches the database.
"""
