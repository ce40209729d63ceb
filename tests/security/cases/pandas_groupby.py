# Ordinary work: pandas over the demo CSV, last expression becomes the table.
# status: ok
# args: --data {{DEMO}}
# table-rows-min: 24
import pandas as pd

gl = pd.read_csv("/data/gl_entries.csv", parse_dates=["entry_date"])
gl["month"] = gl["entry_date"].dt.to_period("M").astype(str)
monthly = gl.groupby("month")[["debit", "credit"]].sum().round(2)
print(len(gl), "entries")
monthly
