"""songpop api stage."""
