"""Where the app keeps its files, one writer per library, memory hand-back: what every stage may use."""
