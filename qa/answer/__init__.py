"""Answer: from ranked passages to non-overlapping, highlighted, cited answers, or an abstention."""
