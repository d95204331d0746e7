"""Request and response shapes of the API (also the OpenAPI schema), one module per part of it."""
