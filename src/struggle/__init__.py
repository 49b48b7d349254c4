"""Struggle detection: pure rules over a learner's recent answers and behaviour
(config, rules, interventions, overview), the Durable Object that keeps one learning
session's window (durable/struggle_detector.py), and the thin service the routes and
the answers route call (service.py)."""
