# A first look at the demo business: revenue and expenses by year, and a
# chart of monthly revenue. Run by `make run`.
import matplotlib.pyplot as plt
import pandas as pd

gl = pd.read_csv("/data/gl_entries.csv", parse_dates=["entry_date"])
accounts = pd.read_csv("/data/accounts.csv")
gl = gl.merge(accounts[["account_id", "type"]], on="account_id")
gl["year"] = gl["entry_date"].dt.year
gl["month"] = gl["entry_date"].dt.to_period("M").dt.to_timestamp()

revenue = gl[gl["type"] == "revenue"]
expense = gl[gl["type"] == "expense"]
monthly = (revenue["credit"] - revenue["debit"]).groupby(revenue["month"]).sum()

monthly.plot(kind="line", marker="o", figsize=(10, 4), title="Revenue by month")
plt.ylabel("revenue")
plt.tight_layout()

summary = pd.DataFrame({
    "revenue": (revenue["credit"] - revenue["debit"]).groupby(revenue["year"]).sum(),
    "expenses": (expense["debit"] - expense["credit"]).groupby(expense["year"]).sum(),
})
summary["net_income"] = summary["revenue"] - summary["expenses"]
summary.round(2)
