"""One module per group of use cases; each use case is a class called once per request."""
