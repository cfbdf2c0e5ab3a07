"""Related items: the "Related" line of a post, and `/related` (the seed's story page)."""
