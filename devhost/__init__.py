"""The local host: serves the Worker's code on CPython with bindings that behave like
Cloudflare's (the Python Workers runtime needs the internet on first start; this does not).

Nothing here is uploaded to Cloudflare: it lives outside src/.
"""
