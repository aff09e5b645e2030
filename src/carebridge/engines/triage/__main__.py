"""`python -m carebridge.engines.triage CASES.jsonl` prints the evaluation report."""

from .evaluate import main

raise SystemExit(main())
