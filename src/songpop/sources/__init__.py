"""songpop sources stage."""
