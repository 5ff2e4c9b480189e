#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""80-issue-12-fair-embedded: 80-issue-12-fair.py (the fair order: discover, showings, set_order) against the embedded default (no --redis:
cojamd starts, supervises and stops its own redis-server in its data directory)."""

import os
import runpy

os.environ["FAIR_REDIS"] = "embedded"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "80-issue-12-fair.py"),
               run_name="__main__")
