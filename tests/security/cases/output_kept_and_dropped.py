# Output a little over the kept size: the run succeeds, with a truncated flag.
# status: ok
# args: --output 64K
# stdout-bytes: 65536
print("z" * 200_000)
