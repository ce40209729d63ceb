# A fork bomb: must stop at the pids limit, end at the wall limit and leave
# no process behind.
# status: timeout
# args: --timeout 3000 --cpu 60000 --pids 32
# limits-hit: pids
# limits-hit: wall
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
