"""Pure figure builders: arrays in, ``go.Figure`` out; no Dash imports, testable alone."""
