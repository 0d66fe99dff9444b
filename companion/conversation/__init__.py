"""The pieces of a spoken exchange every capability uses: say a phrase, record one answer (listening
while Companion speaks), hear spoken commands, and store answers that were cut off."""
