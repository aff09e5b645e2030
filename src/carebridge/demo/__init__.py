"""`carebridge demo`: a realistic, entirely synthetic clinic network for newcomers to click around in."""
