# The environment holds only what the runner sets: no host variable, key or
# token.
# status: ok
# stdout-has: KEYS HOME,LANG,LEDGERBOX_MAX_ROWS,LEDGERBOX_OUT_DIR,LEDGERBOX_RESULT_FD,MPLBACKEND,MPLCONFIGDIR,PATH,TMPDIR
# stdout-lacks: LEDGERBOX_TEST_SECRET
import os

print("KEYS " + ",".join(sorted(os.environ)))
print(dict(os.environ))
