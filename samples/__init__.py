"""Sample photos of filled forms, and the generator that makes them."""
