"""Looking back before the next session: the digest, the review read aloud, replay of one's own voice,
how entries read in the terminal, the periods by session and week, and the exports."""
