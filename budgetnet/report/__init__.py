"""What the project stands behind: confirmations, the results index, comparisons and their figures."""
