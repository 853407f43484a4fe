"""Ranking metrics, public benchmarks, lexical baselines, the evaluation runner and fine-tuning."""
