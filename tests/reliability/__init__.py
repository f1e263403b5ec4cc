"""The reliability suite: crashes, outages, hostile input and sustained load, with real
worker processes checked against a ledger (issue 7)."""
