"""Audio layer: decoding any supported file or bytes to mono float32 at a chosen rate, and the project's
exception types. Imports nothing else of the package."""
