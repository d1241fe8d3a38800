"""The web application's views, one module per area; thin functions that fetch, check, call, render."""
