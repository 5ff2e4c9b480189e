#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-11-invites-embedded: 80-issue-11-invites.py against the embedded default (no --redis:
cojamd starts, supervises and stops its own redis-server in its data directory)."""

import os
import runpy

os.environ["INV_REDIS"] = "embedded"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "80-issue-11-invites.py"),
               run_name="__main__")
