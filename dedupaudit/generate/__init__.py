"""`dedupaudit generate`: a fictional shop with every failure the audit detects planted at chosen rates.

rates.py   the failure rates: names, defaults, what each plants, and the one validator
shop.py    the vectorised generator (numpy draws, Arrow columns), one chunk of orders at a time
writers.py CSV, JSON Lines and Parquet writers that append chunk by chunk
truth.py   truth.json: the reference model (model.py) run over the generated rows, a chunk at a time
model.py   the reference model: the specification of the figures in plain Python
"""
