"""Search: query vectors to filtered, ranked results; folding copies; retrieval quality."""
