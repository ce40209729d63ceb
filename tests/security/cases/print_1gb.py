# Printing 1 GB: the first megabyte is kept, the rest drained, and the run
# is stopped once it is clearly runaway output.
# status: output_limit
# stdout-bytes: 1048576
# limits-hit: output
import sys

chunk = "y" * (1 << 20)
for _ in range(1024):
    sys.stdout.write(chunk)
