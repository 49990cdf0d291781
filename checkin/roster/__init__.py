"""The volunteer roster: reading a roster CSV with every problem by line and column, pure (csv), storing it and
the national-ID vault rows in Postgres (store), and a synthetic city-sized roster for tests and benchmarks (synth).
"""
