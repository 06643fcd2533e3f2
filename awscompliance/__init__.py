"""Compliance checks for AWS accounts, run as pytest tests.

The package turns account sources (profiles, offline credential reports, the demo organization)
into one `Evidence` per account, and each control into a pure function of that evidence.
"""
