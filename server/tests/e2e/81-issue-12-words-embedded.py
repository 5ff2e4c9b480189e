#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""81-issue-12-words-embedded: 80-issue-12-words.py against the embedded default (no --redis)."""

import os
import runpy
import sys

os.environ["WORDS_REDIS"] = "embedded"
sys.dont_write_bytecode = True
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "80-issue-12-words.py"),
               run_name="__main__")
