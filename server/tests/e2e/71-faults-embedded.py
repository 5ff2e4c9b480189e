#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""71-faults-embedded: 70-faults.py against the embedded default (no --redis: cojamd starts,
supervises and stops its own redis-server in its data directory), the set-up `make run` uses.
Its cojamd kill -9 cycles are the case of issue 15; a Redis kill -9 is repaired by cojamd's
supervisor. Same environment variables as 70-faults.py."""

import os
import runpy

os.environ["FAULT_REDIS"] = "embedded"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "70-faults.py"),
               run_name="__main__")
