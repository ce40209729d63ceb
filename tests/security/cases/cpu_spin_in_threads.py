# CPU is counted over every process of the run, not just the first.
# status: cpu_limit
# args: --timeout 10000 --cpu 1500
import os

for _ in range(3):
    if os.fork() == 0:
        break
while True:
    pass
