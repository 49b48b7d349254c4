"""Local bindings, one module per kind, each of one shape: a class built from its
wrangler.jsonc entry, the state directory and a FaultPlan, exposing the Workers SDK's
Python surface (method names, result shapes, limits, error texts)."""
