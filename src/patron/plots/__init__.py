"""Figures (Plotly) for every area: one module per area returns ``plotly.graph_objects.Figure`` objects.

The report and the dashboard embed these; the CLI writes them as HTML/PNG files. No numerics here: a figure
function takes results that the models and services computed.
"""
