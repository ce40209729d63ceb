# Ordinary work: a chart, saved as a PNG artifact by the driver.
# status: ok
# args: --data {{DEMO}}
# artifacts: figure-1.png
import matplotlib.pyplot as plt
import pandas as pd

inv = pd.read_csv("/data/invoices.csv", parse_dates=["issue_date"])
by_month = inv.groupby(inv["issue_date"].dt.to_period("M"))["amount"].sum()
by_month.plot(kind="bar", figsize=(10, 4), title="Invoiced per month")
plt.tight_layout()
