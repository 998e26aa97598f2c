"""The studio's routes, one `APIRouter` per domain, each a module-level `router` that `studio.app` includes:

- `site`: the home redirect and the vendored front-end scripts (htmx, tweetnacl, blakejs)
- `keys`: the Keys page and the wallet API (chain info, prepare a body to sign, submit a signed one)
- `explorer`: blocks live, a block, an extrinsic, an account with its balances proven in the browser, search
- `playground`: pay for a generation or a classification, stream it, the request's outcome
- `earnings`: a contributor's, a model's and a DataNet's earnings (pages and JSON)
- `datanets`: the DataNets pages and the upload to the node's content store
- `models`: what the chain records of base and fine-tuned models
- `modelfactory`: the ModelFactory form (preview, estimate) and the job API (start, watch, act, publish)
- `gateway`: the OpenAI-compatible /v1 routes (request and response types in `studio.openai_protocol`)

Routers take what they need as dependencies (`studio.deps`): the node client, the worker's ModelFactory
client, the templates, the page renderer, the gateway. JSON bodies are pydantic models declared beside
the routes that read them.
"""
