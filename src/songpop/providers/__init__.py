"""Feature providers that still answer over the network (opt-in: `--online`).

- `reccobeats`: ReccoBeats (no key): tracks and audio features by Spotify id.
- `spotify`: the Spotify Web API with client credentials: search, tracks, and audio features
  (which Spotify has refused to new apps since 2024-11-27: a 403 there says so and the next
  provider is tried).

Both go through `http.Client` (timeouts, tenacity retries on 5xx and timeouts, 429 honoured
through Retry-After) and `cache.AnswerCache` (sqlite, with an age limit), so that no id is
fetched twice. `resolve.fetch_features` asks them in order for what the local catalogue lacks.
"""
