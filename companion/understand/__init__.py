"""Understanding a person's words, purely: spoken requests (intents), lengths, the body states a
check-in names, words of acute crisis, and the spoken control words of an answer. Data in
companion/data/, no I/O beyond reading it."""
