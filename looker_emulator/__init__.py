"""A stateful stand-in for Looker's REST API 4.0, spoken to over HTTP (see docs/emulator.md).

It plays a remote server: it never imports the `restore` app or Django.
"""
