"""Measurements of one artifact on one target: size, quality, work, latency, memory."""
