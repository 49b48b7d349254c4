"""Insight pages: the instructor's class overview (nightly snapshots plus a same-day delta)
and the learner's own progress, drawn as server-side SVG with the data behind each chart."""
