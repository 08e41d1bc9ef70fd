"""songpop models stage."""
