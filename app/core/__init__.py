"""The pure core of the app: plain functions over arrays and data frames, no Dash imports."""
