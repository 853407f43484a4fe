"""Role profiles, the skill space, gaps, the optimiser, recommendations, cohorts, catalogue search."""
