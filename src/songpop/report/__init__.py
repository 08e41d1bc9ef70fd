"""songpop report stage."""
