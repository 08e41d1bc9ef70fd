"""songpop prepare stage."""
