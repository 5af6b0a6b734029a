"""The spec language: schema and loading, the op registry, shape inference, conv geometry."""
