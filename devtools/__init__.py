"""Tools for developing the chain, never imported by shipped code: the property-based fuzzing harness
for any chain spec (`fuzz`, on hypothesis), coverage-guided fuzzing of the wire (`wirefuzz`, on atheris),
the kill -9 soak (`crashloop`) and protobuf generation (`protogen`, on grpcio-tools).

Their libraries come with the `dev` extra; a production install has none of them and needs none.
"""
