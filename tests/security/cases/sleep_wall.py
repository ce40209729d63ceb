# Sleeps with the same limits as cpu_spin.py: the wall limit trips instead.
# status: timeout
# args: --timeout 1000 --cpu 5000
# limits-hit: wall
import time

time.sleep(60)
