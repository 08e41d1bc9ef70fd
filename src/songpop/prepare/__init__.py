"""songpop prepare stage: pure DataFrame → DataFrame steps, one module per step.

* `normalize` — match keys for titles and artists (and the original project's seed rule),
  artist fields of every layout split into primary / featured / lead.
* `clean` — unused columns, missing values, out-of-range values, duplicates; each counted.
* `charts` — one chart-history row per chart song (rank 1 is best).
* `match` — tracks to chart songs: exact, then fuzzy above a threshold; one track per song;
  the audit.
* `label` — the popularity score and its label (`composite`, `spotify`, `hit`).

`songpop.build.build_dataset` is the I/O edge that reads the sources, runs these steps and
writes the tables.
"""
