"""Payable Studio: the web app for people - DataNets, ModelFactory, models - served by `payable studio`.

A FastAPI server renders pages (Jinja templates, htmx for partial swaps) and relays to the node and the
worker over gRPC, like any client; front-end packages (htmx, tweetnacl) come pinned from npm
(`package-lock.json`) and are served from the Studio's own origin. Keys stay in the browser: the server
prepares an extrinsic's exact body bytes, the page shows what they say and signs them (`wallet`).
"""
