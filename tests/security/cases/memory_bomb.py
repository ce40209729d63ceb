# Allocates and touches memory without end: an OOM kill at the limit,
# reported as memory_limit, not as a crash.
# status: memory_limit
# args: --memory 128M
# limits-hit: memory
chunks = []
while True:
    chunks.append(b"x" * 10_000_000)
