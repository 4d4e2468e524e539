"""Fault injection for crash tests: a code snippet for a child process that kills itself (SIGKILL)
at its Nth lake write, so a test can stop a writer at every point of a commit.

Use it in a child script after ``import os, signal`` and with ``die_at`` bound::

    script = f"import os, signal, sys\\n...\\ndie_at = int(sys.argv[2])\\n{KILL_AT_NTH_WRITE}\\n..."
"""

KILL_AT_NTH_WRITE = """
from pipeline.lake import Lake as _KillLake
_calls = [0]
def _counting(real):
    def wrapped(self, *a, **k):
        _calls[0] += 1
        if _calls[0] == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, *a, **k)
    return wrapped
for _name in ("write_json", "write_parquet", "delete"):
    setattr(_KillLake, _name, _counting(getattr(_KillLake, _name)))
"""
