"""Readers that turn files on disk into a SequenceDataset."""
