# Spins on the CPU: the CPU limit trips before the wall limit.
# status: cpu_limit
# args: --timeout 5000 --cpu 1000
# limits-hit: cpu
while True:
    pass
